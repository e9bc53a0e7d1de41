"""Engine-tier fixtures: the released engine and CLI (scripts/engine), the stand-in bases, emulated clouds.

The module is driven only through the real `dagger` CLI (dojangkok_local.engine.cli). A host-side Dagger session
(the same engine, through the CLI's `dagger session`) inspects what the CLI produced, as a deploy target would.
"""

from __future__ import annotations

import os
import subprocess
import sys

import dagger
import pytest
from dojangkok_local import ROOT, engine, signing
from dojangkok_local.aws.infra import provision
from dojangkok_local.aws.server import aws_emulator
from dojangkok_local.gcp.seed import seed_environment
from dojangkok_local.gcp.server import running as gcp_fake
from dojangkok_local.registry import RegistryApi

FULL = os.environ.get("DOJANGKOK_FULL_MULTIARCH") == "1"


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    """Starts (or reuses) the engine and the registry; the client environment is applied to this process."""
    return engine.start()


@pytest.fixture(scope="session")
def stand_ins(engine_env) -> None:
    """Stand-in bases under their production names: the engine's platform, and arm64 for the smallest image
    (every platform with DOJANGKOK_FULL_MULTIARCH=1)."""
    subprocess.run([sys.executable, "-m", "dojangkok_local.bases", *([] if FULL else ["--ci"])],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory) -> signing.KeyPair:
    """A cosign key pair of this test session (publish signs with it, deploy and promote verify against it)."""
    return signing.key_pair(tmp_path_factory.mktemp("signing"))


@pytest.fixture(scope="session")
async def dagger_session(engine_env):
    async with dagger.connection(dagger.Config(log_output=sys.stderr)) as client:
        yield client


@pytest.fixture(scope="session")
def registry(engine_env) -> str:
    return engine.registry()


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
