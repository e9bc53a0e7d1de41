"""Fixtures for the AWS emulator tests: one emulator per session, fresh production-shaped infrastructure per test.

Each test gets its own environment prefix (VPC, subnets, launch templates, blue Auto Scaling groups, ALB with
blue/green target groups and listeners, revisions bucket, CodeDeploy application and groups) instead of a moto reset:
resetting re-initialises moto's EC2 backend, which costs seconds per test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import boto3
import pytest
from dojangkok.deploy.blue_green import AwsClients, Backoff, BlueGreen, aws_clients
from dojangkok_local import BUNDLE_DIR
from dojangkok_local.api_models import enforce_aws_models
from dojangkok_local.aws.infra import REGION, Infra, provision
from dojangkok_local.aws.server import AwsEmulator, EmulatorControl, aws_emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[AwsEmulator]:
    with aws_emulator(step_seconds=0.02, minute_seconds=0.02) as running:
        yield running


@pytest.fixture
def control(emulator: AwsEmulator) -> EmulatorControl:
    """The emulator's HTTP control endpoints (call log, green health)."""
    return EmulatorControl(emulator.endpoint)


@pytest.fixture(scope="session")
def session() -> boto3.Session:
    """One session for the whole run: botocore loads each service model once per session, which is slow."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106


_environments = itertools.count(1)  # every test its own names in the one emulator (target group names: <= 32 chars)


@pytest.fixture
def infra(emulator: AwsEmulator, control: EmulatorControl, session: boto3.Session) -> Infra:
    made = provision(emulator.endpoint, region=REGION, env=f"t{next(_environments)}", session=session)
    control.reset_calls()  # every test starts with an empty call log: only the driver's calls follow
    return made


@pytest.fixture(scope="session")
def clients(emulator: AwsEmulator, session: boto3.Session) -> AwsClients:
    """Shared by every test, as the Dagger layer shares them between services: counts are per deploy, not per client.
    Every request and response is held to botocore's published model on top of what the emulator accepts."""
    made = aws_clients(REGION, emulator.endpoint, session=session)
    for client in (made.s3, made.codedeploy, made.autoscaling, made.elbv2):
        enforce_aws_models(client)
    return made


@pytest.fixture
def driver(clients: AwsClients, infra: Infra) -> BlueGreen:
    return BlueGreen(clients, bucket=infra.bucket, backoff=Backoff(0.02, 1.5, 0.1), timeout=30, stop_timeout=30,
                     bundle_dir=BUNDLE_DIR)
