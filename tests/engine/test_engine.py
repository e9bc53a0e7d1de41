"""The local engine itself: multi-platform builds (arm64 under qemu) and one index under two tags."""

from __future__ import annotations

import uuid

import dagger
import pytest
from dagger import dag
from dojangkok_local import bases

pytestmark = pytest.mark.engine


def small_image(platform: str) -> dagger.Container:
    return (
        bases.debian(platform)
        .with_new_file("/etc/dojangkok-probe", f"built for {platform}\n")
        .with_entrypoint(["uname", "-m"])
    )


async def test_builds_and_runs_each_platform(dagger_session):
    machines = {}
    for platform in ("linux/amd64", "linux/arm64"):
        machines[platform] = (await small_image(platform).with_exec([], use_entrypoint=True).stdout()).strip()
    assert machines == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


async def test_publishes_one_index_under_two_tags(dagger_session, registry, registry_api):
    repository = f"engine-test/probe-{uuid.uuid4().hex[:8]}"
    variants = [small_image(p) for p in ("linux/amd64", "linux/arm64")]
    unique = await dag.container().publish(f"{registry}/{repository}:dev-main-202601121400", platform_variants=variants)
    latest = await dag.container().publish(f"{registry}/{repository}:latest", platform_variants=variants)

    unique_digest, index = registry_api.manifest(repository, "dev-main-202601121400")
    latest_digest, _ = registry_api.manifest(repository, "latest")
    assert unique.endswith("@" + unique_digest)
    assert latest.endswith("@" + latest_digest)
    assert unique_digest == latest_digest
    platforms = sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"])
    assert platforms == ["linux/amd64", "linux/arm64"]
    assert sorted(registry_api.tags(repository)) == ["dev-main-202601121400", "latest"]
