"""Engine-tier fixtures: the released engine and CLI (scripts/engine), the stand-in bases, emulated clouds.

The module is driven only through the real `dagger` CLI (dojangkok_local.engine.cli). A host-side Dagger session
(the same engine, through the CLI's `dagger session`) inspects what the CLI produced, as a deploy target would.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import dagger
import pytest
from dojangkok_local import engine, signing
from dojangkok_local.aws.infra import provision
from dojangkok_local.aws.server import aws_emulator
from dojangkok_local.engine.warm import warm
from dojangkok_local.gcp.seed import seed_environment
from dojangkok_local.gcp.server import running as gcp_fake
from dojangkok_local.registry import LocalRegistry, RegistryApi


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    """The running engine (scripts/test starts it; by hand: scripts/engine start), its client environment applied
    to this process."""
    return engine.attach()


@pytest.fixture(scope="session")
def images_built(engine_env) -> None:
    """Stand-in bases under their production names and every image the tier builds, in the engine's cache
    (dojangkok_local.engine.warm: once per run, then found there)."""
    warm()


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory) -> signing.KeyPair:
    """A cosign key pair of this test session (publish signs with it, deploy and promote verify against it)."""
    return signing.key_pair(tmp_path_factory.mktemp("signing"))


@pytest.fixture(scope="session")
async def dagger_session(engine_env):
    async with dagger.connection(dagger.Config(log_output=sys.stderr)) as client:
        yield client


@pytest.fixture(scope="session")
def registry(engine_env) -> Iterator[str]:
    """A registry of this test process' own (each pytest-xdist worker has one): what its tests push, and `latest`
    as they move it, is seen by no test running beside them. The engine's registry keeps the stand-in bases."""
    with LocalRegistry() as running:
        yield running.address


@pytest.fixture(scope="session")
def registry_api(registry) -> RegistryApi:
    return RegistryApi(registry)


@pytest.fixture
def clouds(engine_env):
    """moto + our CodeDeploy front and the GCP fake, provisioned as deploy/environments.toml's dev names them."""
    with aws_emulator(step_seconds=0.05, minute_seconds=0.05) as aws, gcp_fake() as gcp:
        aws.reset()  # moto keeps its state per process: start every test from empty clouds
        provision(aws.endpoint, env="dev")
        seed_environment(gcp.endpoint, "dev")
        gcp.settle()
        aws.reset_calls()
        gcp.reset_calls()
        yield aws, gcp


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Scenarios that must share a worker (xdist_group) first: they run in turn on theirs, the longest chain of the
    tier, while the other workers take everything else."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
