"""Release records: one immutable object per deploy, promote and rollback, and one per rejected release, in the
environment's bundle bucket.

`history` lists the records and `dora` measures them; deploy and promote refuse what a rejection names. Each record
is its own object, created with S3's conditional PutObject (``If-None-Match: *``) and never overwritten, so runs
cannot lose each other's records and nothing edits the past. A record's key starts with its start time, so a
listing reads the records in order and `since` skips the older ones without reading them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .catalogue import service
from .deploy import DeployError, DeployResult, Outcome

RELEASES = "releases/"
REJECTED = "rejected/"
RELEASE_ACTIONS = ("deploy", "promote")  # what moves a new release out; rollback returns to an older one
GATE = "the analysis gate"  # who rejects the release a breach rolled back


class RecordNotWritten(DeployError):
    """The rollout ended, but its record could not be stored: the message says what ran and how to fix access."""


class ReleaseRejected(DeployError):
    """The commit or an image of this release was rejected: refused before anything moves."""


def now() -> str:
    """The time a record notes, in UTC to the millisecond: keys sort calls of the same second by their start."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Change:
    """What one service's target did in a call; images by digest."""

    service: str
    cloud: str
    previous: str  # what it served before the call ("" if nothing this pipeline released)
    image: str  # what the call rolled out (a rollback: the release it returned to)
    outcome: str
    detail: str = ""

    @property
    def serving(self) -> str:
        """What the target serves after the call (a failed one: unknown, so what it served before)."""
        return self.image if self.outcome == Outcome.SUCCEEDED else self.previous


@dataclass(frozen=True)
class Record:
    environment: str
    action: str  # deploy / promote / rollback
    started: str  # ISO 8601, UTC
    ended: str
    actor: str
    services: tuple[str, ...] = ()  # the services the call was asked to move
    commit: str = ""
    commit_time: str = ""  # when the commit was made: the start of its lead time
    tag: str = ""
    changes: tuple[Change, ...] = ()
    cause: str = ""  # why it did not succeed everywhere: a gate's breach, a driver's error, the call's error
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def outcome(self) -> str:
        """The worst of its services' outcomes; "stopped" when the call ended before any rollout."""
        if not self.changes:
            return "stopped" if self.cause else str(Outcome.SUCCEEDED)
        found = {c.outcome for c in self.changes}
        worst = (Outcome.FAILED, Outcome.ROLLED_BACK, Outcome.REVERTED)
        return str(next((o for o in worst if o in found), Outcome.SUCCEEDED))

    @property
    def images(self) -> set[str]:
        return {c.image for c in self.changes if c.image}

    @property
    def key(self) -> str:
        return f"{RELEASES}{_stamp(self.started)}-{self.action}-{self.id}.json"

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "outcome": self.outcome}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Record:
        data = json.loads(text)
        data.pop("outcome", None)  # worked out from the changes
        return cls(**{**data, "services": tuple(data.get("services", ())),
                      "changes": tuple(Change(**c) for c in data.get("changes", ()))})


@dataclass(frozen=True)
class Rejection:
    """A release that must not roll out again: its commit and its images' digests, why, by whom and when."""

    environment: str
    commit: str
    digests: tuple[str, ...]  # sha256:…, of every image of the release
    reason: str
    by: str  # a person (--actor) or the analysis gate
    when: str = field(default_factory=now)
    record: str = ""  # the release record it rejects, if any

    @property
    def key(self) -> str:
        return f"{REJECTED}{self.commit or self.digests[0]}.json"

    def names(self, commit: str, digests: Iterable[str]) -> bool:
        """Whether it rejects `commit` or one of `digests`."""
        return same_commit(self.commit, commit) or bool(set(self.digests) & set(digests))

    def describe(self) -> str:
        what = f"commit {self.commit[:12]}" if self.commit else f"image {self.digests[0]}"
        return f"{what} was rejected in {self.environment} at {self.when} by {self.by}: {self.reason}"

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "digests": list(self.digests)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Rejection:
        data = json.loads(text)
        return cls(**{**data, "digests": tuple(data.get("digests", ()))})


def changes_of(results: list[DeployResult]) -> tuple[Change, ...]:
    """A call's results as the record keeps them."""
    return tuple(Change(service=r.service, cloud=str(service(r.service).cloud), previous=r.previous_image,
                        image=r.image, outcome=str(r.outcome), detail=r.detail) for r in results)


def cause_of(results: list[DeployResult]) -> str:
    """Why a call did not succeed everywhere, in one line: each missed service's own reason."""
    return "; ".join(f"{r.service} {r.outcome}: {r.breach or r.detail}" for r in results
                     if r.outcome is not Outcome.SUCCEEDED)


def gate_rejection(record: Record, results: list[DeployResult]) -> Rejection | None:
    """The rejection of a release the analysis gate rolled back: its commit and every image of it."""
    breaches = [f"{r.service}: {r.breach}" for r in results if r.breach]
    if not breaches:
        return None
    return Rejection(environment=record.environment, commit=record.commit, reason="; ".join(breaches), by=GATE,
                     digests=tuple(sorted({image.partition("@")[2] for image in record.images})), record=record.id)


class Recording:
    """The record of the call running: `done` gives it the rollout's results (and rejects what the gate rolled
    back); `recorded` writes it."""

    def __init__(self, store: Records, record: Record):
        self.store, self.record = store, record

    def returning_to(self, commits: set[str]) -> None:
        """A rollback's record names the commit it returns to, when every service returns to the same one."""
        if len(commits) == 1 and "" not in commits:
            self.record = replace(self.record, commit=commits.pop())

    def done(self, results: list[DeployResult]) -> None:
        self.record = replace(self.record, changes=changes_of(results), cause=cause_of(results))
        if (rejection := gate_rejection(self.record, results)) is not None:
            self.store.reject(rejection)


@contextmanager
def recorded(store: Records, record: Record) -> Iterator[Recording]:
    """Write the call's record when the block ends, however it ends: an error in the block is its cause (and is
    raised, not hidden by a record that cannot be written); a record that cannot be written after a block that
    went through fails the call."""
    recording = Recording(store, record)
    try:
        yield recording
    except BaseException as error:
        final = recording.record
        final = replace(final, ended=now(), cause="; ".join(filter(None, [final.cause, f"{error}"])))
        try:
            store.write(final)
        except RecordNotWritten as lost:
            store.progress(str(lost))
        raise
    store.write(replace(recording.record, ended=now()))


class Records:
    """The records of one environment, over an S3 client (boto3's: production and moto run the same calls)."""

    def __init__(self, s3: Any, bucket: str, environment: str, progress: Callable[[str], None] = lambda _: None):
        self.s3, self.bucket, self.environment, self.progress = s3, bucket, environment, progress

    def write(self, record: Record) -> None:
        """Create the record's object; never replaces one (a clash of ids is an error, not an overwrite)."""
        try:
            self.s3.put_object(Bucket=self.bucket, Key=record.key, Body=record.to_json().encode(),
                               ContentType="application/json", IfNoneMatch="*")
        except Exception as error:
            raise RecordNotWritten(
                f"the {record.action} ended ({record.outcome}) but its record s3://{self.bucket}/{record.key} could "
                f"not be written ({error}); what ran: {_summary(record)}. Give the role s3:PutObject on "
                f"{RELEASES}* and {REJECTED}* in [{self.environment}.aws] bundle_bucket") from error
        self.progress(f"recorded the {record.action} as s3://{self.bucket}/{record.key}")

    def read(self, since: datetime | None = None) -> list[Record]:
        """Every record started at or after `since`, oldest first."""
        start = f"{RELEASES}{_stamp(since.isoformat())}" if since else ""
        return [Record.from_json(text) for text in self._bodies(RELEASES, start_after=start)]

    def reject(self, rejection: Rejection) -> Rejection:
        """Store the rejection; a release rejected already keeps its first rejection, which is returned."""
        try:
            self.s3.put_object(Bucket=self.bucket, Key=rejection.key, Body=rejection.to_json().encode(),
                               ContentType="application/json", IfNoneMatch="*")
        except Exception as error:
            if _code(error) not in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}:
                raise RecordNotWritten(f"the rejection of {rejection.commit or rejection.digests[0]} could not be "
                                       f"written to s3://{self.bucket}/{rejection.key} ({error})") from error
            body = self.s3.get_object(Bucket=self.bucket, Key=rejection.key)["Body"].read().decode()
            return Rejection.from_json(body)
        self.progress(f"rejected: {rejection.describe()}")
        return rejection

    def rejections(self) -> list[Rejection]:
        return [Rejection.from_json(text) for text in self._bodies(REJECTED)]

    def _bodies(self, prefix: str, start_after: str = "") -> list[str]:
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, **({"StartAfter": start_after} if start_after else {}))
            keys = [item["Key"] for page in pages for item in page.get("Contents", ())]
            return [self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode() for key in keys]
        except Exception as error:
            raise DeployError(f"the release records s3://{self.bucket}/{prefix} could not be read ({error}); "
                              f"check [{self.environment}.aws] bundle_bucket and the role's s3:ListBucket and "
                              "s3:GetObject") from error


def refuse_rejected(stores: Iterable[Records], commit: str, digests: Iterable[str] = ()) -> None:
    """ReleaseRejected when any of the stores rejected the commit or one of the digests."""
    digests = list(digests)
    for store in stores:
        for rejection in store.rejections():
            if rejection.names(commit, digests):
                raise ReleaseRejected(f"{rejection.describe()}. A rejected release is never rolled out again: fix "
                                      "it in a new commit and release that")


def same_commit(a: str, b: str) -> bool:
    """Whether two commit SHAs, either abbreviated, name the same commit."""
    a, b = a.lower(), b.lower()
    return bool(a and b and (a.startswith(b) or b.startswith(a)))


def rejection_of(found: Iterable[Record], environment: str, commit: str, reason: str, by: str) -> Rejection:
    """A person's rejection of `commit`: named in full, and with every image digest, as the records know them."""
    ours = [r for r in found if same_commit(r.commit, commit)]
    return Rejection(environment=environment, commit=max((r.commit for r in ours), key=len, default=commit.lower()),
                     digests=tuple(sorted({image.partition("@")[2] for r in ours for image in r.images})),
                     reason=reason, by=by)


def commit_time_of(store: Records, commit: str) -> str:
    """When `commit` was made, as a record of it says ("" if none does)."""
    return next((r.commit_time for r in store.read() if r.commit_time and same_commit(r.commit, commit)), "")


def check_commit_time(value: str) -> str:
    """An ISO 8601 time in UTC, or "" for none; ValueError naming the value otherwise."""
    if not value.strip():
        return ""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"--commit-time {value!r} is not an ISO 8601 time; pass the commit's time as "
                         "`git log -1 --format=%cI` prints it, e.g. 2026-12-07T09:30:00+09:00") from None
    if moment.tzinfo is None:
        raise ValueError(f"--commit-time {value!r} has no time zone; add one (e.g. Z or +09:00)")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _stamp(moment: str) -> str:
    """An ISO 8601 time as a key's sortable prefix, in UTC."""
    moment = datetime.fromisoformat(moment).astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%S") + f".{moment.microsecond // 1000:03d}Z"


def _summary(record: Record) -> str:
    return ", ".join(f"{c.service} {c.outcome} on {c.serving or 'nothing'}" for c in record.changes) or record.cause


def _code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
