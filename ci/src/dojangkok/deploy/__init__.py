"""Cloud deploy drivers. Plain Python over boto3 / google-cloud clients handed in by the caller,
so production and the emulators run the same code; only endpoints and credentials differ."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled-back"  # the new release failed; the previous one keeps serving
    REVERTED = "reverted"  # this service reached the release, another did not: put back on its previous one
    FAILED = "failed"  # failed and could not be rolled back: needs a person


class DeployError(RuntimeError):
    """A deploy could not start or finish; the message says what to do."""


@dataclass
class DeployResult:
    service: str
    strategy: str
    target: str  # deployment group / instance group manager / delivery pipeline
    image: str  # the reference rolled out, by digest
    previous: str  # what served before (revision, template or release); "" if nothing did
    new: str  # what serves now if it succeeded
    outcome: Outcome
    seconds: float
    detail: str = ""
    api_calls: dict[str, int] = field(default_factory=dict)
    raised: bool = False  # the driver raised: `new` is what ran before, unless a restore says otherwise
    previous_image: str = ""  # the image (by digest) the target served before the call, for the release record
    breach: str = ""  # the analysis gate's verdict, when a breach rolled this release back

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, enum.Enum) else v) for k, v in self.__dict__.items()}
