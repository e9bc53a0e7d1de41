"""One deploy at a time per environment, across laptops and CI: a lock record in the environment's S3 bundle bucket.

GitHub's ``concurrency`` only orders runs of one workflow; a person deploying from a laptop does not see it. The
lock is an object written with S3's conditional ``PutObject`` (``If-None-Match: *``): of two writers exactly one
succeeds, the other gets 412 and reads who holds it. The record says who, since when, which release and which
services. It never expires by itself: a lock left by a killed run is broken only by an explicit ``--break-lock``
(a deploy that "recovers" a lock on a timer would run beside one that is merely slow). Breaking and giving back
are conditional on the record's ETag too, so a run never deletes a lock someone else holds.
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
    """The lock of one environment, over an S3 client (boto3's, so production and moto run the same calls).

    Every change is a compare-and-swap on the object's ETag: taking it writes only where none is
    (``If-None-Match: *``), breaking it replaces exactly the record that was read (``If-Match``), and giving it
    back deletes only the record this run wrote (``If-Match``). Of two runs racing at any of these, one wins and
    the other is told who did.
    """

    def __init__(self, s3: Any, bucket: str, environment: str, progress: Callable[[str], None] = lambda _: None):
        self.s3, self.bucket, self.environment, self.progress = s3, bucket, environment, progress
        self._etags: dict[str, str] = {}  # run -> the ETag of the record this lock object wrote for it
        self.broken = ""  # the holder the last acquire broke (--break-lock), for the run's summary

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{LOCK_KEY}"

    def holder(self) -> LockRecord | None:
        """Who holds the lock, None if nobody; a malformed record is an error naming how to break it."""
        held = self._read()
        return None if held is None else self._parse(held[0])

    def acquire(self, record: LockRecord, *, break_lock: bool = False) -> None:
        """Take the lock for `record`, or raise DeployLocked naming who holds it. `break_lock` replaces the
        record it finds, whatever it is (a malformed one too); a breaker that loses the race to another is
        refused, naming the winner."""
        for _ in range(3):  # the lock can come and go between our write and our read: look again
            if self._put(record):
                return
            held = self._read()
            if held is None:
                continue
            body, etag = held
            if not break_lock:
                found = self._parse(body)
                raise DeployLocked(
                    f"{self.environment} is locked by another deploy: {found.describe()} ({self.where}). Wait for "
                    "it to finish; if that run is gone (killed, machine lost), break the stale lock with --break-lock"
                )
            self.progress(f"breaking the deploy lock of {self.environment}: {self._describe(body)}")
            if self._put(record, replacing=etag):
                self.broken = self._describe(body)
                return
            taken = self._read()
            raise DeployLocked(f"{self.environment}'s lock was taken while breaking it: "
                               f"{self._describe(taken[0]) if taken else 'by a run that has released it since'} "
                               f"({self.where}); run again if that run is gone too")
        raise DeployLocked(f"{self.environment}'s lock changed hands three times while taking it ({self.where}): "
                           "other runs are deploying; try again when they are done")

    def release(self, record: LockRecord) -> None:
        """Give the lock back if it is still ours: deleted only if the object is the record this run wrote."""
        etag = self._etags.pop(record.run, None) or self._etag_of(record)
        if not etag:
            return
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=LOCK_KEY, IfMatch=etag)
            return
        except Exception as error:
            if _error_code(error) in {"NoSuchKey", "404"}:
                return  # broken and released by someone else since
            if _error_code(error) not in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}:
                raise self._unreachable(error) from error
        now = self._read()
        self.progress(f"the deploy lock of {self.environment} was broken and is now held by "
                      f"{self._describe(now[0]) if now else 'nobody'}; leaving it")

    @contextmanager
    def held(self, record: LockRecord, *, break_lock: bool = False) -> Iterator[LockRecord]:
        self.acquire(record, break_lock=break_lock)
        try:
            yield record
        finally:
            self.release(record)

    # ---- S3 ---------------------------------------------------------------------------------------------------
    def _put(self, record: LockRecord, *, replacing: str = "") -> bool:
        """The conditional write: where no lock is, or (`replacing`) over the record with that ETag. True if it
        wrote; False if the condition failed (412, 409 for a racing write, 404 for a record deleted since)."""
        condition = {"IfMatch": replacing} if replacing else {"IfNoneMatch": "*"}
        try:
            answer = self.s3.put_object(Bucket=self.bucket, Key=LOCK_KEY, Body=record.to_json().encode(),
                                        ContentType="application/json", **condition)
        except Exception as error:
            if _error_code(error) in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409",
                                      "NoSuchKey", "404"}:
                return False
            raise self._unreachable(error) from error
        self._etags[record.run] = answer["ETag"]
        return True

    def _read(self) -> tuple[str, str] | None:
        """The lock object's text and ETag, None if there is none."""
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=LOCK_KEY)
        except Exception as error:
            if _error_code(error) in {"NoSuchKey", "404"}:
                return None
            raise self._unreachable(error) from error
        return answer["Body"].read().decode(errors="replace"), answer["ETag"]

    def _etag_of(self, record: LockRecord) -> str:
        """The ETag of the lock object if it is `record` (taken through another DeployLock object), else ""."""
        held = self._read()
        if held is None:
            return ""
        try:
            return held[1] if LockRecord.from_json(held[0]).run == record.run else ""
        except (ValueError, TypeError):
            return ""

    def _parse(self, body: str) -> LockRecord:
        try:
            return LockRecord.from_json(body)
        except (ValueError, TypeError) as error:
            raise DeployError(f"the deploy lock {self.where} is not a lock record ({error}); "
                              "inspect it, then run again with --break-lock") from error

    def _describe(self, body: str) -> str:
        try:
            return LockRecord.from_json(body).describe()
        except (ValueError, TypeError):
            return f"a record that is not a lock record ({body[:80]!r})"

    def _unreachable(self, error: Exception) -> DeployError:
        return DeployError(f"the deploy lock {self.where} could not be read or written ({error}); check the bucket "
                           f"setting ([{self.environment}.aws] bundle_bucket) and the role's s3:GetObject, "
                           "s3:PutObject and s3:DeleteObject on locks/*")
