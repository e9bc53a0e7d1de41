"""The deploy drivers `dagger call deploy` builds inside its function container, built in this process on the
emulators' endpoints: the emulator tier drives releases with them, and engine-tier tests arrange what an
environment already runs with them (the CLI call under test stays the act)."""

from __future__ import annotations

import boto3
from dojangkok import release
from dojangkok.credentials import Access
from dojangkok.deploy.blue_green import aws_clients
from dojangkok.deploy.rolling import gcp_clients
from dojangkok.environments import Settings

from dojangkok_local import BUNDLE_DIR, startup_template


def emulated(settings: Settings, aws_endpoint: str, gcp_endpoint: str) -> release.Drivers:
    """Drivers of the environment `settings` describes, on the AWS emulator and the GCP fake."""
    session = boto3.Session(aws_access_key_id="emulator", aws_secret_access_key="emulator")  # noqa: S106
    return release.Drivers(
        settings, Access(None, None), BUNDLE_DIR, startup_template(),
        aws=aws_clients(settings.aws.region, aws_endpoint, session=session),
        gcp=gcp_clients(settings.gcp.project, endpoint=gcp_endpoint),
    )


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
