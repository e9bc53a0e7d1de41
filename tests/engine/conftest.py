"""Engine-tier fixtures: the stand-in bases and images warmed once, a signing key, a host-side Dagger session
(the engine, the registries and the emulated clouds: tests/conftest.py).

The module is driven only through the real `dagger` CLI (dojangkok_local.engine.cli). A host-side Dagger session
(the same engine, through the CLI's `dagger session`) inspects what the CLI produced, as a deploy target would.
"""

from __future__ import annotations

import sys

import dagger
import pytest
from dojangkok_local import signing
from dojangkok_local.engine.warm import warm


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Scenarios that must share a worker (xdist_group) first: they run in turn on theirs, the longest chain of the
    tier, while the other workers take everything else."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
