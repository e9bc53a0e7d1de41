"""One deploy at a time per environment, across laptops and CI: a lock record in the environment's S3 bundle bucket.

GitHub's ``concurrency`` only orders runs of one workflow; a person deploying from a laptop does not see it. The
lock is an object written with S3's conditional ``PutObject`` (``If-None-Match: *``): of two writers exactly one
succeeds, the other gets 412 and reads who holds it. The record says who, since when, which release and which
services. It never expires by itself: a lock left by a killed run is broken only by an explicit ``--break-lock``
(a deploy that "recovers" a lock on a timer would run beside one that is merely slow).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dojangkok.deploy import DeployError

LOCK_KEY = "locks/deploy.json"  # the bucket is per environment, so one key is one environment's lock


class DeployLocked(DeployError):
    """Another deploy holds the environment's lock; the message names it and how to break a stale one."""


@dataclass(frozen=True)
class LockRecord:
    environment: str
    holder: str  # who: --actor (CI passes the workflow's actor and run), else "unknown"
    action: str  # deploy / rollback / promote
    release: str  # the release tag, or what a rollback returns from
    services: tuple[str, ...]
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    run: str = field(default_factory=lambda: uuid.uuid4().hex)  # tells this run's lock from a later one

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "services": list(self.services)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> LockRecord:
        data = json.loads(text)
        return cls(**{**data, "services": tuple(data.get("services", ()))})

    def describe(self, now: datetime | None = None) -> str:
        since = datetime.fromisoformat(self.since)
        minutes = ((now or datetime.now(UTC)) - since).total_seconds() / 60
        return (f"{self.action} of {self.release} ({', '.join(self.services)}) by {self.holder}, "
                f"since {self.since} ({minutes:.0f} min ago)")


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


class DeployLock:
    """The lock of one environment, over an S3 client (boto3's, so production and moto run the same calls)."""

    def __init__(self, s3: Any, bucket: str, environment: str, progress: Callable[[str], None] = lambda _: None):
        self.s3, self.bucket, self.environment, self.progress = s3, bucket, environment, progress

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{LOCK_KEY}"

    def holder(self) -> LockRecord | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=LOCK_KEY)["Body"].read()
        except Exception as error:
            if _error_code(error) in {"NoSuchKey", "404"}:
                return None
            raise self._unreachable(error) from error
        try:
            return LockRecord.from_json(body.decode())
        except (ValueError, TypeError) as error:
            raise DeployError(f"the deploy lock {self.where} is not a lock record ({error}); "
                              "inspect it, then run again with --break-lock") from error

    def acquire(self, record: LockRecord, *, break_lock: bool = False) -> None:
        """Take the lock for `record`, or raise DeployLocked naming who holds it."""
        if self._put(record):
            return
        held = self.holder()
        if not break_lock:
            if held is None:  # released between our write and our read: one more try, then report
                if self._put(record):
                    return
                held = self.holder()
            raise DeployLocked(
                f"{self.environment} is locked by another deploy: {held.describe() if held else 'unknown'} "
                f"({self.where}). Wait for it to finish; if that run is gone (killed, machine lost), break the "
                "stale lock with --break-lock"
            )
        self.progress(f"breaking the deploy lock of {self.environment}: "
                      f"{held.describe() if held else 'it had just been released'}")
        self._delete()
        if not self._put(record):  # someone else took it in between: theirs, not ours to break again
            taken = self.holder()
            raise DeployLocked(f"{self.environment}'s lock was taken while breaking it: "
                               f"{taken.describe() if taken else 'unknown'} ({self.where})")

    def release(self, record: LockRecord) -> None:
        """Give the lock back if it is still ours (a --break-lock by someone else made it theirs)."""
        held = self.holder()
        if held is not None and held.run == record.run:
            self._delete()
        elif held is not None:
            self.progress(f"the deploy lock of {self.environment} was broken and is now held by {held.describe()}; "
                          "leaving it")

    @contextmanager
    def held(self, record: LockRecord, *, break_lock: bool = False) -> Iterator[LockRecord]:
        self.acquire(record, break_lock=break_lock)
        try:
            yield record
        finally:
            self.release(record)

    # ---- S3 ---------------------------------------------------------------------------------------------------
    def _put(self, record: LockRecord) -> bool:
        """The conditional write: True if it created the lock, False if one exists (412) or a write raced (409)."""
        try:
            self.s3.put_object(Bucket=self.bucket, Key=LOCK_KEY, Body=record.to_json().encode(),
                               ContentType="application/json", IfNoneMatch="*")
        except Exception as error:
            if _error_code(error) in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}:
                return False
            raise self._unreachable(error) from error
        return True

    def _delete(self) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=LOCK_KEY)
        except Exception as error:
            raise self._unreachable(error) from error

    def _unreachable(self, error: Exception) -> DeployError:
        return DeployError(f"the deploy lock {self.where} could not be read or written ({error}); check the bucket "
                           f"setting ([{self.environment}.aws] bundle_bucket) and the role's s3:GetObject, "
                           "s3:PutObject and s3:DeleteObject on locks/*")
