"""Every test belongs to exactly one tier, the folder it lives in (tests/unit, tests/emulator, tests/engine,
tests/workflows), so `pytest -m unit|emulator|engine|workflows` runs each alone, `pytest tests/TIER` collects no
more than it needs, and together they run everything (an unmarked test would silently drop out of `scripts/test`).

Below: the fixtures the tiers share (the running engine, a registry of their own, emulated clouds, Prometheus and
the gated services it scrapes); their imports stay inside them so the unit tier does not load moto.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TIERS = ("unit", "emulator", "engine", "workflows")
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tiers = [t for t in TIERS if item.get_closest_marker(t)]
        folder = item.path.relative_to(HERE).parts[0]
        if tiers != [folder]:
            raise pytest.UsageError(f"{item.nodeid}: mark it with exactly its folder's tier, {folder}, not {tiers}")


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    """The running engine (scripts/test starts it; by hand: scripts/engine start), its client environment applied
    to this process."""
    from dojangkok_local import engine

    return engine.attach()


@pytest.fixture(scope="session")
def registry(engine_env) -> Iterator[str]:
    """A registry of this test process' own (each pytest-xdist worker has one): what its tests push, and `latest`
    as they move it, is seen by no test running beside them. The engine's registry keeps the stand-in bases."""
    from dojangkok_local.registry import LocalRegistry

    with LocalRegistry() as running:
        yield running.address


@pytest.fixture(scope="session")
def registry_api(registry):
    from dojangkok_local.registry import RegistryApi

    return RegistryApi(registry)


@pytest.fixture
def clouds(engine_env):
    """moto + our CodeDeploy front and the GCP fake, provisioned as deploy/environments.toml's dev names them."""
    from dojangkok_local.aws.infra import provision
    from dojangkok_local.aws.server import aws_emulator
    from dojangkok_local.gcp.seed import seed_environment
    from dojangkok_local.gcp.server import running as gcp_fake

    with aws_emulator(step_seconds=0.05, minute_seconds=0.05) as aws, gcp_fake() as gcp:
        aws.reset()  # moto keeps its state per process: start every test from empty clouds
        provision(aws.endpoint, env="dev")
        seed_environment(gcp.endpoint, "dev")
        gcp.settle()
        aws.reset_calls()
        gcp.reset_calls()
        yield aws, gcp


@pytest.fixture(scope="session")
def prometheus():
    from dojangkok_local.prometheus import Prometheus

    with Prometheus() as running:
        yield running


@pytest.fixture(scope="session")
def backend_jar(tmp_path_factory) -> Path:
    from dojangkok_local.gated import package_backend

    return package_backend(tmp_path_factory.mktemp("backend"))


@pytest.fixture
def serving(prometheus, request: pytest.FixtureRequest) -> Callable:
    """`with serving(service="ai-server", **faults)`: a release of a gated service (ai-server, or backend) under
    users' load, scraped by Prometheus as that service (dojangkok_local.gated)."""
    from dojangkok_local import gated

    def run(service: str = "ai-server", **faults: str):
        jar = request.getfixturevalue("backend_jar") if service == "backend" else None
        return gated.serving(prometheus, service, jar, **faults)

    return run
