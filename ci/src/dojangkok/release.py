"""Rolling a published release out to both clouds at once, and back.

Each service goes to the driver its catalogue strategy names: CodeDeploy Blue/Green on AWS, a managed
instance group rolling update (or a Cloud Deploy rollout, where a delivery pipeline is configured) on GCP.
The drivers are plain Python over boto3 / google-cloud clients; this module only builds those clients from
the run's credentials and endpoints and runs the drivers side by side.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagger

from .catalogue import Cloud, Service
from .credentials import AwsCredentials, Credentials, CredentialsError, GcpCredentials
from .deploy import DeployResult, Outcome
from .deploy.blue_green import BlueGreen, aws_clients
from .deploy.cloud_deploy import CloudDeploy, pipeline_and_target
from .deploy.common import Backoff
from .deploy.rolling import RollingUpdate, gcp_clients
from .environments import Settings


class ReleaseFailed(RuntimeError):
    """At least one service did not reach its new release; the message is the whole summary."""


@dataclass
class Targets:
    """Where the drivers talk: production endpoints by default, emulators when endpoints are given."""

    aws: AwsCredentials
    gcp: GcpCredentials
    gcp_endpoint: str = ""

    @property
    def credentials(self) -> Credentials:
        """What registry logins need of these targets."""
        return Credentials(self.aws, self.gcp)

    def checked(self, services: tuple[Service, ...]) -> Targets:
        """These targets, or an error before anything is built or pushed when a cloud has no credentials."""
        if any(s.cloud is Cloud.AWS for s in services) and not self.aws.given:
            raise CredentialsError(
                "deploying to AWS needs credentials: pass --aws-access-key-id env:AWS_ACCESS_KEY_ID "
                "--aws-secret-access-key env:AWS_SECRET_ACCESS_KEY [--aws-session-token env:AWS_SESSION_TOKEN]"
            )
        if any(s.cloud is Cloud.GCP for s in services) and not (self.gcp.given or self.gcp_endpoint):
            raise CredentialsError(
                "deploying to GCP needs credentials: pass --gcp-credentials file:$GOOGLE_APPLICATION_CREDENTIALS "
                "or --gcp-access-token cmd:'gcloud auth print-access-token'"
            )
        return self


class Drivers:
    """One driver per service (drivers count their own API calls, so they are not shared)."""

    def __init__(self, settings: Settings, targets: Targets, bundle_dir: Path, startup_template: str):
        self.settings = settings
        self.targets = targets
        self.bundle_dir = bundle_dir
        self.startup_template = startup_template
        self._aws = None
        self._gcp = None

    async def prepare(self) -> None:
        """Build the cloud clients (reads the secrets once)."""
        import boto3

        if self.targets.aws.given:
            session = boto3.session.Session(**await self.targets.aws.session_kwargs(self.settings.aws.region))
            self._aws = aws_clients(self.settings.aws.region, self.targets.aws.endpoint_url or None, session=session)
        if self.targets.gcp_endpoint or self.targets.gcp.given:
            self._gcp = gcp_clients(
                self.settings.gcp.project, self.targets.gcp_endpoint or None, await google_credentials(self.targets.gcp)
            )

    def deploy(self, svc: Service, image: str) -> DeployResult:
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
            templates=self._gcp.templates,
            groups=self._gcp.groups,
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


async def google_credentials(gcp: GcpCredentials):
    """google-auth credentials from the run's secrets, or None (the driver then uses ADC or the fake)."""
    if gcp.access_token is not None:
        import google.oauth2.credentials

        return google.oauth2.credentials.Credentials(token=await gcp.access_token.plaintext())
    if gcp.credentials_json is not None:
        import google.auth

        info = json.loads(await gcp.credentials_json.plaintext())
        creds, _ = google.auth.load_credentials_from_dict(info, scopes=["https://www.googleapis.com/auth/cloud-platform"])
        return creds
    return None


def progress(line: str) -> None:
    print(line, flush=True)


async def deploy_files(source: dagger.Directory) -> tuple[Path, str]:
    """deploy/aws (the CodeDeploy bundle) on local disk and the GCP startup-script template, from the source."""
    bundle_dir = Path(tempfile.mkdtemp(prefix="dojangkok-bundle-"))
    await source.directory("deploy/aws").export(str(bundle_dir))
    return bundle_dir, await source.file("deploy/gcp/startup-script.sh").contents()


async def run(services: list[tuple[Service, str | None]], drivers: Drivers, rollback: bool) -> list[DeployResult]:
    """Deploy (or roll back) every service concurrently: AWS and GCP at the same time."""
    await drivers.prepare()

    def one(svc: Service, image: str | None) -> DeployResult:
        return drivers.rollback(svc) if rollback else drivers.deploy(svc, image)

    return list(await asyncio.gather(*(asyncio.to_thread(one, svc, image) for svc, image in services)))


def report(results: list[DeployResult], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([r.as_dict() for r in results], indent=2)
    width = max([len(r.strategy) for r in results] + [8])
    header = f"{'service':10} {'strategy':{width}} {'result':12} {'seconds':>7}  previous -> new"
    lines = [header]
    for r in results:
        moved = f"{r.previous or '-'} -> {r.new}"
        lines.append(f"{r.service:10} {r.strategy:{width}} {r.outcome!s:12} {r.seconds:7.1f}  {moved}")
        lines.append(f"{'':10} image {r.image}")
        if r.detail:
            lines.append(f"{'':10} {r.detail}")
    return "\n".join(lines)


def check_outcomes(results: list[DeployResult], text: str) -> str:
    if any(r.outcome is not Outcome.SUCCEEDED for r in results):
        raise ReleaseFailed(text)
    return text
