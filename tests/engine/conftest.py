"""Engine-tier fixtures: the local Dagger engine and registry (scripts/engine), one session for all tests."""

from __future__ import annotations

import sys

import dagger
import httpx
import pytest

from dojangkok_local import bases, engine


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
    await bases.publish(["linux/amd64", "linux/arm64"])
    return bases.build_args()


class Registry:
    """Reads what a registry holds over the OCI distribution API, the way a deploy target would."""

    INDEX_TYPES = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"

    def __init__(self, address: str, auth: tuple[str, str] | None = None):
        self.http = httpx.Client(base_url=f"http://{address}/v2/", auth=auth, timeout=30)

    def manifest(self, repository: str, reference: str) -> tuple[str, dict]:
        response = self.http.get(f"{repository}/manifests/{reference}", headers={"Accept": self.INDEX_TYPES})
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"], response.json()

    def tags(self, repository: str) -> list[str]:
        response = self.http.get(f"{repository}/tags/list")
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return response.json().get("tags") or []


@pytest.fixture(scope="session")
def registry_api(registry) -> Registry:
    return Registry(registry)
