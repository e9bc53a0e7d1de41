"""Fixtures for the GCP emulator tests: the fake on 127.0.0.1, real google-cloud clients pointed at it, and the
instance groups / delivery pipeline built through those clients the way production has them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from dojangkok.deploy.cloud_deploy import CloudDeploy
from dojangkok.deploy.rolling import GcpClients, RollingUpdate, gcp_clients
from dojangkok_local import startup_template
from dojangkok_local.emulator_common import FakeClock
from dojangkok_local.gcp.seed import GROUPS, PIPELINE, PROJECT, REGION, SIZES, TARGET, ZONE, seed_groups, seed_pipeline
from dojangkok_local.gcp.seed import release_image as image
from dojangkok_local.gcp.server import FakeGcpServer, running


@pytest.fixture
def gcp() -> Iterator[FakeGcpServer]:
    with running() as server:
        yield server


@pytest.fixture
def clients(gcp: FakeGcpServer) -> GcpClients:
    return gcp_clients(PROJECT, endpoint=gcp.endpoint)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rolling(clients: GcpClients, clock: FakeClock) -> Callable[..., RollingUpdate]:
    def make(**overrides) -> RollingUpdate:
        settings = dict(project=PROJECT, zone=ZONE, clients=clients, startup_template=startup_template(),
                        network=f"projects/{PROJECT}/global/networks/dojangkok",
                        subnetwork=f"projects/{PROJECT}/regions/{REGION}/subnetworks/dojangkok-ai-private",
                        service_account=f"dojangkok-ai@{PROJECT}.iam.gserviceaccount.com",
                        sleep=clock.sleep, clock=clock, retry_initial=0.01, retry_maximum=0.05)
        settings.update(overrides)
        return RollingUpdate(**settings)

    return make


@dataclass
class Production:
    templates: dict[str, str]  # service -> the template its group runs


@pytest.fixture
def production(gcp: FakeGcpServer, clients: GcpClients, rolling) -> Production:
    """Both GCP groups on release 1: health-checked, proactive, stable. The call log starts empty."""
    templates = seed_groups(clients, rolling(), GROUPS, {s: image(s, 1) for s in GROUPS}, SIZES)
    gcp.settle()
    gcp.reset_calls()
    return Production(templates)


@pytest.fixture
def cloud_deploy(gcp: FakeGcpServer, clients: GcpClients, clock: FakeClock) -> Callable[..., CloudDeploy]:
    def make(**overrides) -> CloudDeploy:
        settings = dict(client=clients.deploy, project=PROJECT, region=REGION, pipeline=PIPELINE, target=TARGET,
                        sleep=clock.sleep, clock=clock, retry_initial=0.01, retry_maximum=0.05)
        settings.update(overrides)
        return CloudDeploy(**settings)

    return make


@pytest.fixture
def pipeline(gcp: FakeGcpServer, clients: GcpClients, cloud_deploy) -> str:
    """A delivery pipeline dev -> prd whose prd target runs ai-server release 1. The call log starts empty."""
    seed_pipeline(clients, PROJECT, REGION, PIPELINE, ("dev", TARGET))
    first = cloud_deploy().deploy("ai-server", image("ai-server", 1))
    assert first.outcome == "succeeded", first.detail
    gcp.reset_calls()
    return first.new
