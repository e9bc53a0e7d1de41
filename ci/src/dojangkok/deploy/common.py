"""What the AWS and GCP drivers share: image references by digest, catalogue look-ups, poll backoff, the `plan`
entry type, and (for the two Google drivers) counted, retried API calls and long-running-operation polling."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dojangkok import catalogue
from dojangkok.catalogue import Service
from dojangkok.deploy import DeployError

# An image reference by digest: registry/path[:tag]@sha256:<64 hex>. Deploys never resolve tags (DESIGN "Tags").
IMAGE_BY_DIGEST = re.compile(
    r"^(?P<repository>(?P<registry>[a-z0-9][a-z0-9.-]*(?::[0-9]+)?)(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)+)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?"
    r"@(?P<digest>sha256:[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class ImageRef:
    reference: str
    repository: str
    registry: str
    tag: str
    digest: str  # sha256:…

    @property
    def hex(self) -> str:
        return self.digest.removeprefix("sha256:")


def parse_image(reference: str) -> ImageRef:
    """An image reference by digest, or a DeployError that says how to get one."""
    match = IMAGE_BY_DIGEST.match(reference or "")
    if not match:
        raise DeployError(
            f"image {reference!r} is not a reference by digest: deploys need REGISTRY/PATH[:TAG]@sha256:<64 hex> "
            "(take the digest `dagger call publish` printed, or pass --image …@sha256:…; tags can move)"
        )
    return ImageRef(reference, match["repository"], match["registry"], match["tag"] or "", match["digest"])


def catalogue_entry(service: Service | str) -> Service:
    """The catalogue entry of `service`, an unknown name as a DeployError (the drivers' one error type)."""
    if isinstance(service, Service):
        return service
    try:
        return catalogue.service(service)
    except catalogue.UnknownServiceError as error:
        raise DeployError(str(error)) from error


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between status polls (no jitter: the client libraries already jitter their retries)."""

    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 30.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


@dataclass(frozen=True)
class PlannedCall:
    """One API call deploy would make, for `plan`; `api` is the name DeployResult.api_calls counts it under."""

    api: str  # "service.operation": codedeploy.CreateDeployment, compute.instanceGroupManagers.patch
    target: str  # the resource it acts on
    summary: str = ""
    body: dict | None = None

    @property
    def service(self) -> str:
        return self.api.split(".", 1)[0]

    @property
    def operation(self) -> str:
        return self.api.split(".", 1)[-1]

    def as_dict(self) -> dict:
        return {"api": self.api, "target": self.target, "summary": self.summary, "body": self.body}

    def __str__(self) -> str:
        return f"{self.api}({self.target})" + (f"  # {self.summary}" if self.summary else "")


class GoogleApiCalls:
    """Counted, retried calls for the Google drivers (RollingUpdate, CloudDeploy), which carry the fields used here.

    `calls` counts every call that went over the wire, retries included, under the API's REST method name.
    """

    calls: Counter
    retry_initial: float
    retry_maximum: float
    retry_timeout: float
    operation_timeout: float
    poll_max: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]

    def _retry(self, api: str) -> Any:
        from google.api_core import retry as gretry

        return gretry.Retry(
            predicate=gretry.if_transient_error,
            initial=self.retry_initial,
            maximum=self.retry_maximum,
            multiplier=2.0,
            timeout=self.retry_timeout,
            on_error=lambda _error: self.calls.update([api]),  # a retried call went over the wire too
        )

    def _call(self, api: str, method: Callable[..., Any], **request: Any) -> Any:
        self.calls[api] += 1
        return method(**request, retry=self._retry(api))

    def _wait_operation(self, operation: Any, api: str, what: str, *, done: bool) -> Any:
        """Poll a long-running operation with backoff (injectable sleep/clock); its result, or its error raised.

        `done`: whether it had finished when it was returned, so an instant operation costs no poll.
        """
        deadline = self.clock() + self.operation_timeout
        delays = Backoff(0.5, 2.0, self.poll_max).delays()
        while not done:
            if self.clock() >= deadline:
                raise DeployError(f"{what} did not finish within {self.operation_timeout:g}s")
            self.calls[api] += 1
            if operation.done(retry=self._retry(api)):
                break
            self.sleep(next(delays))
        return operation.result()  # already resolved: no further call
