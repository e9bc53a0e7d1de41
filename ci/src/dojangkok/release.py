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
from collections import Counter
from dataclasses import replace
from pathlib import Path

import dagger

from .build import progress
from .catalogue import Cloud, Service
from .credentials import Access, endpoint_url
from .deploy import DeployError, DeployResult, Outcome
from .deploy.analysis import AnalysisGate
from .deploy.blue_green import AwsClients, BlueGreen, aws_clients
from .deploy.cloud_deploy import CloudDeploy, pipeline_and_target
from .deploy.common import Backoff
from .deploy.lock import DeployLock
from .deploy.rolling import GcpClients, RollingUpdate, gcp_clients
from .environments import Settings
from .report import OutputFormat, Section, render


class ReleaseFailed(RuntimeError):
    """At least one service did not reach its new release; the message is the whole summary."""


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

    def deploy(self, svc: Service, image: str) -> DeployResult:
        """Roll `image` out; once it takes all traffic, the analysis gate (if any) judges it or rolls it back."""
        result = self._roll_out(svc, image)
        if result.outcome is not Outcome.SUCCEEDED or self.gate is None or not self.gate.applies(svc.name):
            return result
        verdict = self.gate.judge(svc.name)
        if verdict.passed:
            return replace(result, detail="; ".join(filter(None, [result.detail, str(verdict)])))
        back = self.rollback(svc)
        if back.outcome is not Outcome.SUCCEEDED:
            return followed_by(result, back, outcome=Outcome.FAILED, detail=f"{verdict}; the rollback failed: "
                               f"{back.detail}")
        return followed_by(result, back, outcome=Outcome.ROLLED_BACK, new=back.new,
                           detail=f"{verdict}; rolled back to {back.new}")

    def _roll_out(self, svc: Service, image: str) -> DeployResult:
        if svc.cloud is Cloud.AWS:
            return self.blue_green().deploy(svc, image, **self.aws_group(svc))
        if self.settings.gcp.delivery_pipeline:
            return self.cloud_deploy(svc).deploy(svc, image)
        return self.rolling().deploy(svc, image, group=self.settings.gcp.groups[svc.name].instance_group)

    def rollback(self, svc: Service) -> DeployResult:
        if svc.cloud is Cloud.AWS:
            return self.blue_green().rollback(svc, **self.aws_group(svc))
        if self.settings.gcp.delivery_pipeline:
            return self.cloud_deploy(svc).rollback(svc)
        return self.rolling().rollback(svc, group=self.settings.gcp.groups[svc.name].instance_group)

    def serving(self, svc: Service) -> str:
        """The image (by digest) the service's target runs now, "" if it runs none this pipeline deployed."""
        if svc.cloud is Cloud.AWS:
            return self.blue_green().serving(**self.aws_group(svc))
        if self.settings.gcp.delivery_pipeline:
            raise DeployError(f"{svc.name}: reading what a Cloud Deploy target runs is not supported; promote "
                              "the release with `gcloud deploy releases promote` there")
        return self.rolling().serving(group=self.settings.gcp.groups[svc.name].instance_group)

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


async def run(services: list[tuple[Service, str | None]], drivers: Drivers, rollback: bool,
              independent: bool = False) -> list[DeployResult]:
    """Deploy (or roll back) every service concurrently: AWS and GCP at the same time.

    A deploy is one release: if any service did not reach it, the services that did are rolled back to what
    they ran before, so the clouds never serve different releases. `independent` keeps each outcome as it is.
    """

    def one(svc: Service, image: str | None) -> DeployResult:
        return drivers.rollback(svc) if rollback else drivers.deploy(svc, image)

    results = list(await asyncio.gather(*(asyncio.to_thread(one, svc, image) for svc, image in services)))
    if rollback or independent or all(r.outcome is Outcome.SUCCEEDED for r in results):
        return results
    return await revert_the_rest(results, dict(services), drivers)


async def revert_the_rest(results: list[DeployResult], services: dict[Service, str | None],
                          drivers: Drivers) -> list[DeployResult]:
    """Roll back the services that reached a release another service of it did not reach."""
    missed = ", ".join(f"{r.service} {r.outcome}" for r in results if r.outcome is not Outcome.SUCCEEDED)
    by_name = {svc.name: svc for svc in services}
    progress(f"the release did not reach every service ({missed}): reverting the ones that switched")

    def revert(result: DeployResult) -> DeployResult:
        if result.outcome is not Outcome.SUCCEEDED:
            return result
        why = f"reverted because {missed}"
        try:
            back = drivers.rollback(by_name[result.service])
        except Exception as error:  # the driver's message says why; the release stays, a person must look
            return replace(result, outcome=Outcome.FAILED, detail=f"{why}, but could not revert: {error}")
        if back.outcome is not Outcome.SUCCEEDED:
            return replace(result, outcome=Outcome.FAILED, detail=f"{why}, but the revert failed: {back.detail}")
        return followed_by(result, back, outcome=Outcome.REVERTED, new=back.new, detail=f"{why}; back on {back.new}")

    return list(await asyncio.gather(*(asyncio.to_thread(revert, r) for r in results)))


def followed_by(result: DeployResult, back: DeployResult, **changes) -> DeployResult:
    """`result` after the rollback `back` that followed it: its time and API calls added, `changes` applied."""
    return replace(result, seconds=result.seconds + back.seconds,
                   api_calls=dict(Counter(result.api_calls) + Counter(back.api_calls)), **changes)


def report(results: list[DeployResult], fmt: OutputFormat | str, rollback: bool = False) -> str:
    table = Section(
        header=("service", "strategy", "result", "seconds", "previous -> new", "image"),
        rows=[(r.service, r.strategy, str(r.outcome), f"{r.seconds:.1f}", f"{r.previous or '-'} -> {r.new}", r.image)
              for r in results],
    )
    details = Section(title="details", rows=[(r.service, r.detail) for r in results if r.detail])
    title = "Rollback" if rollback else "Deploy"
    title += " succeeded" if all(r.outcome is Outcome.SUCCEEDED for r in results) else " did not succeed everywhere"
    return render(title, [table, *([details] if details.rows else [])], [r.as_dict() for r in results], fmt)


def check_outcomes(results: list[DeployResult], text: str) -> str:
    if any(r.outcome is not Outcome.SUCCEEDED for r in results):
        raise ReleaseFailed(text)
    return text
