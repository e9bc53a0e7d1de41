"""Releases arranged for scenarios: images in a local registry and the emulated clouds running them, as a deploy
would have left them, so a scenario starts from "dev runs release 2" without paying for two deploys."""

from __future__ import annotations

import asyncio

from dojangkok import catalogue
from dojangkok import release as dojangkok_release
from dojangkok.deploy import Outcome
from dojangkok.oci import REVISION_LABEL

from dojangkok_local import emulator_polls, settings
from dojangkok_local.drivers import emulated
from dojangkok_local.registry import RegistryApi

SERVICES = ("frontend", "ai-server")  # one per cloud: the drivers' own tiers cover the rest
EVERY = tuple(s.name for s in catalogue.BUILT)  # what a deploy or rollback without --service acts on


def commit(n: int) -> str:
    """The commit release `n` was built from (its images' revision label)."""
    return f"{n:02x}" * 20


def images(registry: str, n: int, services: tuple[str, ...] = SERVICES) -> dict[str, str]:
    """Release `n` as references by digest: minimal images in the registry (no instance pulls them), each under its
    unique tag, labelled with the release's commit."""
    api = RegistryApi(registry)
    labels = {"release": str(n), REVISION_LABEL: commit(n)}
    return {name: f"{registry}/dojangkok/{name}@"
                  + api.push_image(f"dojangkok/{name}", f"dev-main-20261207{n:04d}", {"Labels": labels})
            for name in services}


def drivers(clouds, env: str) -> dojangkok_release.Drivers:
    """The drivers deploy uses, on the emulators `clouds` (aws, gcp), polling them as often as the settings allow."""
    aws, gcp = clouds
    return emulated(settings(env, environ=emulator_polls(env)), aws.endpoint, gcp.endpoint)


def run(clouds, env: str, images: dict[str, str]) -> dict[str, str]:
    """Arrange what `env` runs: each service's image rolled out by the drivers deploy uses, in this process; the
    emulators' call logs are emptied after, so a scenario sees only its own calls."""
    results = asyncio.run(dojangkok_release.run([(catalogue.service(s), image) for s, image in images.items()],
                                                drivers(clouds, env)))
    assert {r.outcome for r in results} == {Outcome.SUCCEEDED}, [r.as_dict() for r in results]
    for emulator in clouds:
        emulator.reset_calls()
    return images


def serving(clouds, env: str, services: tuple[str, ...] = SERVICES) -> dict[str, str]:
    """service -> the image (by digest) its target in `env` runs, read from the clouds."""
    found = drivers(clouds, env)
    return {name: found.rollout(catalogue.service(name)).serving() for name in services}


def latest(api: RegistryApi, name: str) -> str:
    """The digest `latest` names in the service's repository, "" if there is none."""
    repository = f"dojangkok/{name}"
    return api.manifest(repository, "latest")[0] if "latest" in api.tags(repository) else ""
