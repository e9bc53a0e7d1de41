"""The deploy drivers `dagger call deploy` builds inside its function container, built in this process on the
emulators' endpoints: the emulator tier drives releases with them, and engine-tier tests arrange what an
environment already runs with them (the CLI call under test stays the act)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from dojangkok import catalogue, release
from dojangkok.credentials import Access
from dojangkok.deploy.blue_green import aws_clients
from dojangkok.deploy.rolling import gcp_clients
from dojangkok.environments import Settings

from dojangkok_local import BUNDLE_DIR, startup_template
from dojangkok_local.aws.infra import ecr_image, provision
from dojangkok_local.aws.server import EmulatorControl, aws_emulator
from dojangkok_local.gcp.seed import first_image, seed_environment
from dojangkok_local.gcp.server import FakeGcpServer
from dojangkok_local.gcp.server import running as gcp_fake


def emulated(settings: Settings, aws_endpoint: str, gcp_endpoint: str) -> release.Drivers:
    """Drivers of the environment `settings` describes, on the AWS emulator and the GCP fake."""
    session = boto3.Session(aws_access_key_id="emulator", aws_secret_access_key="emulator")  # noqa: S106
    return release.Drivers(
        settings, Access(None, None), BUNDLE_DIR, startup_template(),
        aws=aws_clients(settings.aws.region, aws_endpoint, session=session),
        gcp=gcp_clients(settings.gcp.project, endpoint=gcp_endpoint),
    )


def numbered_release(settings: Settings, n: int) -> list[tuple[catalogue.Service, str]]:
    """Release `n` of frontend (AWS) and ai-server (GCP), as references by digest the emulators accept."""
    gcp = settings.gcp
    return [(catalogue.service("frontend"), ecr_image("frontend", str(n))),
            (catalogue.service("ai-server"), first_image(gcp.region, gcp.project, gcp.repository, "ai-server", n))]


def what_runs(drivers: release.Drivers, services: tuple[str, ...] = ("frontend", "ai-server")) -> dict[str, str]:
    """What each service's target runs, read from the clouds' own state with their clients (not the drivers):
    CodeDeploy's last successful revision for an AWS group, the instance template of a GCP group."""
    settings, found = drivers.settings, {}
    for name in services:
        if name in settings.aws.groups:
            codedeploy = drivers._aws.codedeploy
            group = codedeploy.get_deployment_group(
                applicationName=settings.aws.codedeploy_application,
                deploymentGroupName=settings.aws.groups[name].deployment_group)["deploymentGroupInfo"]
            last = (group.get("lastSuccessfulDeployment") or {}).get("deploymentId")
            s3 = codedeploy.get_deployment(deploymentId=last)["deploymentInfo"]["revision"]["s3Location"] if last \
                else {}
            found[name] = f"s3://{s3['bucket']}/{s3['key']}" if s3 else ""
        else:
            mig = drivers._gcp.groups.get(project=settings.gcp.project, zone=settings.gcp.zone,
                                          instance_group_manager=settings.gcp.groups[name].instance_group)
            found[name] = mig.instance_template.rsplit("/", 1)[-1]
    return found


@dataclass(frozen=True)
class FreshClouds:
    """The drivers of an environment on emulators of their own, and the emulators' fault switches."""

    drivers: release.Drivers
    aws: EmulatorControl
    gcp: FakeGcpServer


@contextmanager
def fresh_clouds(settings: Settings) -> Iterator[FreshClouds]:
    """The environment of `settings` provisioned on a new AWS emulator and GCP fake (on fast clocks) for the block."""
    with aws_emulator(step_seconds=0.02, minute_seconds=0.02) as aws, gcp_fake(tick_seconds=0.05) as gcp:
        aws.reset()
        provision(aws.endpoint, env=settings.environment.value)
        seed_environment(gcp.endpoint, settings.environment.value)
        gcp.settle()
        yield FreshClouds(emulated(settings, aws.endpoint, gcp.endpoint), EmulatorControl(aws.endpoint), gcp)
