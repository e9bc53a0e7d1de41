"""Rolling a published release out to both clouds at once, and back.

Each service goes to the driver its catalogue strategy names: CodeDeploy Blue/Green on AWS, a managed
instance group rolling update (or a Cloud Deploy rollout, where a delivery pipeline is configured) on GCP.
The drivers are plain Python over boto3 / google-cloud clients; this module only builds those clients from
the run's credentials and endpoints, runs the drivers side by side, and keeps the two clouds on one release: when
a service of a release does not reach it, the services that did are reverted (unless the run is --independent).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import dagger

from . import oci
from .catalogue import Cloud, Service
from .credentials import Access, endpoint_url
from .deploy import DeployError, DeployResult, Outcome
from .deploy.analysis import AnalysisGate
from .deploy.blue_green import AwsClients, BlueGreen, aws_clients
from .deploy.cloud_deploy import CloudDeploy, pipeline_and_target
from .deploy.common import Backoff, parse_image
from .deploy.lock import DeployLock
from .deploy.rolling import GcpClients, RollingUpdate, gcp_clients
from .environments import Settings
from .records import Records
from .report import OutputFormat, Section, progress, render
from .tags import LATEST


class ReleaseFailed(RuntimeError):
    """At least one service did not reach its new release; the message is the whole summary."""


@dataclass(frozen=True)
class Rollout:
    """One service's target, whatever rolls it out: CodeDeploy Blue/Green, a rolling update and Cloud Deploy take
    the same calls, `where` naming the target as its driver does."""

    service: Service
    driver: BlueGreen | RollingUpdate | CloudDeploy
    where: dict[str, str]

    @property
    def target(self) -> str:
        return "/".join(self.where.values()) or self.driver.target

    def current(self) -> str:
        """What the target runs now, in the form `restore` takes ("" if nothing this pipeline released)."""
        return self.driver.current(self.service, **self.where)

    def deploy(self, image: str) -> DeployResult:
        return self.driver.deploy(self.service, image, **self.where)

    def restore(self, previous: str) -> DeployResult:
        """Put the target back on `previous`, exactly; one that runs it already is left alone."""
        return self.driver.restore(self.service, previous, **self.where)

    def release_before(self) -> tuple[str, str]:
        """The release before the current one: what `restore` takes to go back to it, and its image."""
        return self.driver.release_before(self.service, **self.where)

    def serving(self) -> str:
        """The image (by digest) the target runs now, "" if it runs none this pipeline deployed."""
        return self.driver.serving(self.service, **self.where)

    def served(self) -> str:
        """`serving`, or "" where the strategy cannot tell (Cloud Deploy): for the record, never a reason to stop."""
        try:
            return self.serving()
        except DeployError:
            return ""

    def outcome_of(self, act: Callable[[], DeployResult], image: str = "", previous: str = "") -> DeployResult:
        """What `act` (rolling `image` out, or back) returned; when it raised, that error as a failed result, still
        on `previous` until something puts it back."""
        started = time.monotonic()
        try:
            return act()
        except Exception as error:  # the other rollouts go on; the caller decides what to put back
            return DeployResult(service=self.service.name, strategy=self.driver.strategy, target=self.target,
                                image=image, previous=previous, new=previous, outcome=Outcome.FAILED,
                                seconds=round(time.monotonic() - started, 3),
                                detail=f"{type(error).__name__}: {error}", raised=True)


class Drivers:
    """One driver per service (drivers count their own API calls, so they are not shared)."""

    def __init__(self, settings: Settings, access: Access, bundle_dir: Path, startup_template: str, *,
                 aws: AwsClients | None = None, gcp: GcpClients | None = None):
        self.settings = settings
        self.access = access
        self.bundle_dir = bundle_dir
        self.startup_template = startup_template
        self._aws = aws  # built by prepare() from the run's access; handed in by harnesses that hold clients
        self._gcp = gcp
        self.gate: AnalysisGate | None = None  # set by prepare() when the environment or with-prometheus names one

    async def prepare(self) -> Drivers:
        """Build the cloud clients (reads the secrets once)."""
        import boto3

        if (aws := self.access.aws) is not None:
            session = boto3.session.Session(**await aws.session_kwargs(self.settings.aws.region))
            self._aws = aws_clients(self.settings.aws.region, await endpoint_url(aws.endpoint) or None, session=session)
        if (gcp := self.access.gcp) is not None:
            self._gcp = gcp_clients(
                self.settings.gcp.project, await endpoint_url(gcp.endpoint) or None, await gcp.google_credentials()
            )
        url = await endpoint_url(self.access.prometheus.endpoint) if self.access.prometheus else ""
        url = url or self.settings.analysis.prometheus_url
        if url:
            token = self.access.prometheus.token if self.access.prometheus else None
            self.gate = AnalysisGate(self.settings.analysis, url, await token.plaintext() if token else "",
                                     progress=progress)
        return self

    def lock(self) -> DeployLock:
        """The environment's deploy lock, in its bundle bucket (check_deploy made sure AWS access was given)."""
        return DeployLock(self._aws.s3, self.settings.aws.bundle_bucket, self.settings.environment.value, progress)

    def records(self) -> Records:
        """The environment's release records, in its bundle bucket beside the lock."""
        return Records(self._aws.s3, self.settings.aws.bundle_bucket, self.settings.environment.value, progress)

    def rollout(self, svc: Service) -> Rollout:
        """The service's target behind the one interface every strategy has: the only place that picks one."""
        if svc.cloud is Cloud.AWS:
            return Rollout(svc, self.blue_green(), self.aws_group(svc))
        if self.settings.gcp.delivery_pipeline:
            return Rollout(svc, self.cloud_deploy(svc), {})
        return Rollout(svc, self.rolling(), {"group": self.settings.gcp.groups[svc.name].instance_group})

    def deploy(self, rollout: Rollout, image: str) -> DeployResult:
        """Roll `image` out; once it takes all traffic, the analysis gate (if any) judges it or puts back what ran
        before."""
        result = rollout.deploy(image)
        svc = rollout.service
        if result.outcome is not Outcome.SUCCEEDED or self.gate is None or not self.gate.applies(svc.name):
            return result
        verdict = self.gate.judge(svc.name)
        if verdict.passed:
            return replace(result, detail="; ".join(filter(None, [result.detail, str(verdict)])))
        back = rollout.restore(result.previous)
        if back.outcome is not Outcome.SUCCEEDED:
            return followed_by(result, back, outcome=Outcome.FAILED, breach=str(verdict),
                               detail=f"{verdict}; the rollback failed: {back.detail}")
        return followed_by(result, back, outcome=Outcome.ROLLED_BACK, new=back.new, breach=str(verdict),
                           detail=f"{verdict}; rolled back to {back.new}")

    def aws_group(self, svc: Service) -> dict[str, str]:
        return {
            "application": self.settings.aws.codedeploy_application,
            "deployment_group": self.settings.aws.groups[svc.name].deployment_group,
        }

    @property
    def poll(self) -> tuple[float, float]:
        """First and longest wait between status polls."""
        first = float(self.settings.timeouts.poll_seconds)
        return first, 6 * first

    def blue_green(self) -> BlueGreen:
        return BlueGreen(
            self._aws,
            bucket=self.settings.aws.bundle_bucket,
            timeout=self.settings.timeouts.deploy_minutes * 60.0,
            stop_timeout=self.settings.timeouts.deploy_minutes * 60.0,  # every wait within deploy_minutes
            backoff=Backoff(initial=self.poll[0], maximum=self.poll[1]),
            bundle_dir=self.bundle_dir,
            progress=progress,
        )

    def rolling(self) -> RollingUpdate:
        return RollingUpdate(
            project=self.settings.gcp.project,
            zone=self.settings.gcp.zone,
            clients=self._gcp,
            timeout=self.settings.timeouts.deploy_minutes * 60.0,
            rollback_timeout=self.settings.timeouts.deploy_minutes * 60.0,
            initial_delay_sec=self.settings.timeouts.health_check_seconds,
            poll_initial=self.poll[0],
            poll_max=self.poll[1],
            startup_template=self.startup_template,
            progress=progress,
        )

    def cloud_deploy(self, svc: Service) -> CloudDeploy:
        pipeline, target = pipeline_and_target(
            self.settings.gcp.delivery_pipeline, self.settings.environment.value, svc.name
        )
        return CloudDeploy(
            self._gcp.deploy,
            project=self.settings.gcp.project,
            region=self.settings.gcp.region,
            pipeline=pipeline,
            target=target,
            timeout=self.settings.timeouts.deploy_minutes * 60.0,
            poll_initial=self.poll[0],
            poll_max=self.poll[1],
            progress=progress,
        )


async def deploy_files(source: dagger.Directory) -> tuple[Path, str]:
    """deploy/aws (the CodeDeploy bundle) on local disk and the GCP startup-script template, from the source."""
    bundle_dir = Path(tempfile.mkdtemp(prefix="dojangkok-bundle-"))
    await source.directory("deploy/aws").export(str(bundle_dir))
    return bundle_dir, await source.file("deploy/gcp/startup-script.sh").contents()


async def run(services: list[tuple[Service, str]], drivers: Drivers, independent: bool = False
              ) -> list[DeployResult]:
    """Deploy every service concurrently, AWS and GCP at the same time, as one release.

    What each target runs is recorded first. Every rollout then runs to its own end (a driver's error is that
    service's outcome, not an early exit); if any service did not reach the release, every service is put back on
    exactly what it ran before this call (one that did not move is left alone), so the clouds never serve
    different releases. `independent` keeps each outcome, and puts back only the services whose rollout raised.
    Returns once every rollout and restore has ended: the caller's deploy lock outlives them all.
    """
    rollouts = [drivers.rollout(svc) for svc, _ in services]
    before = await _each(rollouts, lambda r: r.current())  # nothing has moved yet: an error here ends the call
    served = await _each(rollouts, lambda r: r.served())

    def attempt(rollout: Rollout, image: str, previous: str, previous_image: str) -> DeployResult:
        result = rollout.outcome_of(lambda: drivers.deploy(rollout, image), image, previous)
        return replace(result, previous_image=previous_image)

    results = list(await asyncio.gather(*(asyncio.to_thread(attempt, r, image, previous, image_before)
                                          for r, (_, image), previous, image_before
                                          in zip(rollouts, services, before, served, strict=True))))
    if all(r.outcome is Outcome.SUCCEEDED for r in results):
        return results
    if independent:
        raised = [i for i, r in enumerate(results) if r.raised]
        return await put_back(results, rollouts, before, only=raised, missed="", pause=drivers.poll[0])
    missed = ", ".join(f"{r.service} {r.outcome}" for r in results if r.outcome is not Outcome.SUCCEEDED)
    progress(f"the release did not reach every service ({missed}): putting back what ran before")
    return await put_back(results, rollouts, before, only=range(len(results)), missed=missed,
                          pause=drivers.poll[0])


async def put_back(results: list[DeployResult], rollouts: list[Rollout], before: list[str], *,
                   only: Iterable[int], missed: str, pause: float, attempts: int = 3) -> list[DeployResult]:
    """Restore the services `only` (indexes) to what they ran `before`; every other result stays as it is. A
    restore that raises is tried again (`attempts` in all, `pause` doubling between them): the error that broke
    the rollout (a refused call, an expired session) may not outlast it."""

    def restore(rollout: Rollout, previous: str) -> DeployResult:
        for attempt in range(attempts - 1):
            try:
                return rollout.restore(previous)
            except Exception as error:
                progress(f"{rollout.service.name}: putting it back failed ({error}); trying again")
                time.sleep(pause * 2**attempt)
        return rollout.restore(previous)  # the last attempt's error is the outcome

    def settle(result: DeployResult, rollout: Rollout, previous: str) -> DeployResult:
        reached = result.outcome is Outcome.SUCCEEDED
        why = f"reverted because {missed}" if reached else result.detail
        try:
            back = restore(rollout, previous)
        except Exception as error:  # the driver's message says why; a person must look
            return replace(result, outcome=Outcome.FAILED, detail=f"{why}; could not put it back: {error}")
        if back.outcome is not Outcome.SUCCEEDED:
            return followed_by(result, back, outcome=Outcome.FAILED,
                               detail=f"{why}; putting it back failed: {back.detail}")
        if back.previous == back.new:  # it had not moved, or had put itself back already
            if reached:
                return followed_by(result, back, detail=f"{result.detail}; it ran {back.new} before, so it stays")
            return followed_by(result, back, outcome=Outcome.ROLLED_BACK, new=back.new)
        return followed_by(result, back, outcome=Outcome.REVERTED if reached else Outcome.ROLLED_BACK,
                           new=back.new, detail=f"{why}; back on {back.new}")

    only = list(only)
    settled = await asyncio.gather(*(asyncio.to_thread(settle, results[i], rollouts[i], before[i]) for i in only))
    results = list(results)
    for i, result in zip(only, settled, strict=True):
        results[i] = result
    return results


async def roll_back(services: list[Service], drivers: Drivers,
                    check: Callable[[list[tuple[Service, str]]], Awaitable[None]] | None = None
                    ) -> list[DeployResult]:
    """Put every service back on the release before its current one, concurrently.

    The releases to return to are found first and handed to `check` (service, image each), which refuses by
    raising before anything moves; then every restore runs to its end, a driver's error that service's outcome.
    """
    rollouts = [drivers.rollout(svc) for svc in services]
    targets = await _each(rollouts, lambda r: r.release_before())
    if check is not None:
        await check([(r.service, image) for r, (_, image) in zip(rollouts, targets, strict=True)])
    served = await _each(rollouts, lambda r: r.served())

    def attempt(rollout: Rollout, target: str, image: str, previous_image: str) -> DeployResult:
        result = rollout.outcome_of(lambda: rollout.restore(target), image)
        return replace(result, previous_image=previous_image)

    return list(await asyncio.gather(*(asyncio.to_thread(attempt, r, target, image, image_before)
                                       for r, (target, image), image_before in zip(rollouts, targets, served,
                                                                                  strict=True))))


async def _each(rollouts: list[Rollout], read: Callable[[Rollout], str]) -> list[str]:
    """`read` of every rollout at once; the first error is raised once all have answered."""
    answers = await asyncio.gather(*(asyncio.to_thread(read, r) for r in rollouts), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return list(answers)


async def point_latest(images: list[str], reach: oci.Reach) -> None:
    """Point `latest` of each image's repository at it (references by digest): what runs once a rollout, a
    revert or a rollback has ended."""

    def one(image: str) -> None:
        try:
            ref = parse_image(image)
        except DeployError:  # a release this pipeline did not make (no image by digest to name)
            progress(f"latest not moved: what runs now, {image or 'unknown'}, is not an image by digest")
            return
        location = oci.Location.of(ref.repository)
        progress(f"pointing {location.registry}/{location.repository}:{LATEST} at {ref.digest}")
        oci.tag(oci.reached(reach, location.registry), location, ref.digest, LATEST)

    await asyncio.gather(*(asyncio.to_thread(one, image) for image in images))


def followed_by(result: DeployResult, back: DeployResult, **changes) -> DeployResult:
    """`result` after the rollback `back` that followed it: its time and API calls added, `changes` applied."""
    return replace(result, seconds=result.seconds + back.seconds,
                   api_calls=dict(Counter(result.api_calls) + Counter(back.api_calls)), **changes)


def report(results: list[DeployResult], fmt: OutputFormat | str, rollback: bool = False, broken: str = "") -> str:
    """The run's summary; `broken`: the deploy lock holder this run broke (--break-lock), named for the record."""
    table = Section(
        header=("service", "strategy", "result", "seconds", "previous -> new", "image"),
        rows=[(r.service, r.strategy, str(r.outcome), f"{r.seconds:.1f}", f"{r.previous or '-'} -> {r.new}", r.image)
              for r in results],
    )
    details = Section(title="details", rows=[(r.service, r.detail) for r in results if r.detail])
    title = "Rollback" if rollback else "Deploy"
    title += " succeeded" if all(r.outcome is Outcome.SUCCEEDED for r in results) else " did not succeed everywhere"
    lock = Section(title="deploy lock", rows=[("broken", broken)])
    sections = [table, *([details] if details.rows else []), *([lock] if broken else [])]
    return render(title, sections, [r.as_dict() for r in results], fmt)


def check_outcomes(results: list[DeployResult], text: str) -> str:
    if any(r.outcome is not Outcome.SUCCEEDED for r in results):
        raise ReleaseFailed(text)
    return text
