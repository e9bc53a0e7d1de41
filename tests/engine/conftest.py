"""Engine-tier fixtures: the local Dagger engine and registry (scripts/engine), one session for all tests."""

from __future__ import annotations

import os
import sys

import dagger
import pytest
from dojangkok_local import bases, call, engine
from dojangkok_local.registry import RegistryApi


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    """Starts (or reuses) the engine and the registry; the client environment is applied to this process."""
    return engine.start()


@pytest.fixture(scope="session")
async def dagger_session(engine_env):
    async with dagger.connection(dagger.Config(log_output=sys.stderr)) as client:
        yield client


@pytest.fixture(scope="session")
def registry(engine_env) -> str:
    return engine.registry()


@pytest.fixture(scope="session")
async def stand_in_bases(dagger_session) -> dict[str, str]:
    """Production base ARG -> local stand-in reference, built for the engine's own platform and arm64."""
    full = os.environ.get("DOJANGKOK_FULL_MULTIARCH") == "1"
    await bases.publish(["linux/amd64", "linux/arm64"], bases.NEEDED if full else bases.CI)
    return bases.build_args()


@pytest.fixture(scope="session")
def registry_api(registry) -> RegistryApi:
    return RegistryApi(registry)


@pytest.fixture(scope="session")
def pipeline(dagger_session):
    """The module's main object over this checkout, as `dagger call` would create it."""
    from dojangkok.main import Dojangkok

    return Dojangkok(source=call.source_directory())


@pytest.fixture(scope="session")
def base(stand_in_bases) -> list[str]:
    """--base overrides that swap every production base image for its local stand-in."""
    return [f"{arg}={ref}" for arg, ref in stand_in_bases.items()]
