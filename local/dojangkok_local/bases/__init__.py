"""Stand-in base images, served under their production names by the local registry.

Stands in for Docker Hub, which this machine cannot reach. The production Dockerfiles keep their bases
(node:20-alpine, python:3.11-slim, …, as ARG defaults) and the module keeps the Python base its SDK runtime picks;
the engine's registry-mirror configuration (`[registry."docker.io"] mirrors = ["127.0.0.1:5000"]`, written by
scripts/engine) sends every Docker Hub pull to the local registry, where this module pushes a stand-in under the
same repository and tag. Each stand-in is a small Dockerfile of local/stand-ins/ on a Debian root filesystem
bootstrapped with debootstrap; nothing in the production path changes, only where its inputs come from.

    python -m dojangkok_local.bases                  # every stand-in for every platform it is needed on
    python -m dojangkok_local.bases --ci             # engine platform, plus arm64 for the smallest image only
    python -m dojangkok_local.bases --module-base    # only the module's Python base (what `dagger functions` needs)

The tools the module runs from their released images (syft) stand in the same way: the binary is built once from
the Go module proxy at the image's tag (`go install …@vX.Y.Z`, cached) and put on the Debian root filesystem.

A stand-in is also tagged by its recipe (suite + Dockerfile content); one the registry already holds for the wanted
platforms is reused, not rebuilt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import dagger
import httpx
from dagger import dag
from dojangkok import catalogue, sbom, supply_chain
from dojangkok.images import base_args

from dojangkok_local import ROOT
from dojangkok_local.registry import RegistryApi, engine_registry

SUITE = "bookworm"
MIRRORED = {"ghcr.io"}  # registries besides Docker Hub that scripts/engine mirrors to the local one
STAND_INS = ROOT / "local" / "stand-ins"
CACHE = Path(os.environ.get("DOJANGKOK_CACHE", Path.home() / ".cache" / "dojangkok"))
HOST = "linux/amd64"
# Which stand-in recipe (local/stand-ins/NAME.Dockerfile) replaces each Dockerfile base ARG's production image.
RECIPES = {
    "NODE_IMAGE": "node",
    "MAVEN_IMAGE": "maven",
    "RUNTIME_IMAGE": "jre",
    "PYTHON_IMAGE": "python",
    "VLLM_IMAGE": "python",
}
# Builder stages run on the engine's platform; arm64 is needed where a runtime stage runs there.
ARM64_ARGS = {"NODE_IMAGE", "RUNTIME_IMAGE", "PYTHON_IMAGE"}
CI_ARM64_ARGS = {"PYTHON_IMAGE"}  # ai-server, the smallest image, proves arm64 in CI
# Left out of the images run on every call (the python stand-in's Dockerfile, the tools): where the host trusts extra
# CAs, the engine appends them to the bundle around each exec instead of running this twice (bench.exec_cost).
CA_TOOL = "/usr/sbin/update-ca-certificates"
# Tool images the module runs on the engine's platform -> the Go package of the binary and its path in the image.
TOOLS = {
    sbom.SYFT_IMAGE: ("github.com/anchore/syft/cmd/syft", "/syft"),
    supply_chain.COSIGN_IMAGE: ("github.com/sigstore/cosign/v3/cmd/cosign", "/ko-app/cosign"),
}


def module_base() -> str:
    """The base image the Python SDK runtime picks for ci/: python:X.Y-slim from `requires-python` (>=X.Y)."""
    project = tomllib.loads((ROOT / "ci" / "pyproject.toml").read_text())["project"]
    match = re.fullmatch(r"\s*(?:>=|==)\s*(3\.\d+)\S*\s*", project.get("requires-python", ""))
    if not match:
        raise SystemExit("ci/pyproject.toml: requires-python must read >=3.X for the runtime to pick python:3.X-slim")
    return f"python:{match[1]}-slim"


def production_bases() -> dict[str, str]:
    """Production base image -> the ARG that names it (the module's base counts as PYTHON_IMAGE)."""
    images = {module_base(): "PYTHON_IMAGE"}
    for svc in catalogue.BUILT:
        for arg, default in base_args((ROOT / svc.dockerfile).read_text()).items():
            if arg not in RECIPES:
                raise SystemExit(f"{svc.dockerfile}: base ARG {arg} has no stand-in; add it to bases.RECIPES")
            images.setdefault(default, arg)
    return images


def docker_hub_path(image: str) -> tuple[str, str]:
    """Repository path and tag of a Docker Hub (or ghcr.io) reference as the registry mirror asks for it."""
    name, _, tag = image.partition(":")
    first = name.split("/", 1)[0]
    if first in MIRRORED:
        return name.split("/", 1)[1], tag or "latest"
    if "." in first or ":" in first or "@" in image:
        raise SystemExit(f"{image}: only Docker Hub and ghcr.io images by tag are served through the registry mirror")
    return (name if "/" in name else f"library/{name}"), tag or "latest"


def recipe_tag(recipe: str) -> str:
    dockerfile = STAND_INS / f"{recipe}.Dockerfile"
    content = dockerfile.read_bytes() if dockerfile.exists() else b""
    return f"stand-in-{SUITE}-{hashlib.sha256(content).hexdigest()[:10]}"


def platforms_held(api: RegistryApi, repository: str, tag: str) -> tuple[str, set[str]]:
    """What the registry holds under the tag (a single-platform publish is one image, not an index)."""
    try:
        return api.platforms(repository, tag)
    except httpx.HTTPError:
        return "", set()


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Held by one process at a time: the set-up steps that run side by side may ask for the same cached thing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def rootfs(platform: str) -> Path:
    """A minimal Debian root filesystem for the platform, bootstrapped once and cached."""
    arch = platform.split("/")[1]
    target = CACHE / "bases" / f"debian-{SUITE}-{arch}"
    if (target / ".complete").exists():
        return target
    with exclusive(target):
        if not (target / ".complete").exists():
            bootstrap(target, arch)
    return target


def bootstrap(target: Path, arch: str) -> None:
    print(f"[bases] debootstrap {SUITE} {arch} into {target} (once; arm64 runs under qemu)", file=sys.stderr)
    subprocess.run(["rm", "-rf", str(target)], check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["debootstrap", f"--arch={arch}", "--variant=minbase", "--include=ca-certificates", SUITE, str(target)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (target / ".complete").touch()


def tool_binary(image: str) -> Path:
    """The tool of a released image, built from the Go module proxy at the image's tag (once, cached)."""
    package, _ = TOOLS[image]
    return go_tool(package, image.rpartition(":")[2])


def go_tool(package: str, version: str) -> Path:
    """`go install package@version` from the Go module proxy, once: the binary in the cache."""
    name = package.rsplit("/", 1)[-1]
    target = CACHE / "tools" / f"{name}-{version}"
    binary = target / name
    if binary.exists():
        return binary
    with exclusive(target):
        if not binary.exists():
            print(f"[bases] go install {package}@{version} (once)", file=sys.stderr)
            environ = {**os.environ, "GOBIN": str(target), "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
            subprocess.run(["go", "install", "-ldflags=-s -w", f"{package}@{version}"], check=True, env=environ)
    return binary


def tool_binaries() -> list[Path]:
    return [tool_binary(image) for image in TOOLS]


def debian(platform: str) -> dagger.Container:
    root = dag.host().directory(str(rootfs(platform)), exclude=["dev/*", "proc/*", "sys/*", ".complete"])
    return (
        dag.container(platform=dagger.Platform(platform))
        .with_rootfs(root)
        .with_env_variable("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    )


def wanted(ci: bool, platforms: list[str]) -> dict[str, list[str]]:
    """Production image -> the platforms its stand-in is needed on."""
    arm64 = CI_ARM64_ARGS if ci else ARM64_ARGS
    plan = {}
    for image, arg in production_bases().items():
        need = [HOST] + (["linux/arm64"] if arg in arm64 else [])
        plan[image] = [p for p in need if p in platforms]
    return {image: p for image, p in plan.items() if p}


async def publish(plan: dict[str, list[str]], tools: bool = True) -> dict[str, str]:
    """Push a stand-in under each production name, for its platforms (and the tools' for the engine's);
    returns image -> registry reference@digest."""
    registry = engine_registry()
    api = RegistryApi(registry)
    images = production_bases()
    debian_images: dict[str, asyncio.Task[str]] = {}

    async def publish_debian(platforms: list[str]) -> str:
        repository, tag = "stand-in/debian", f"{SUITE}-" + "-".join(p.split("/")[1] for p in platforms)
        digest, held = platforms_held(api, repository, tag)
        if not digest or not set(platforms) <= held:
            variants = await asyncio.gather(*(asyncio.to_thread(debian, p) for p in platforms))
            await dag.container().publish(f"{registry}/{repository}:{tag}", platform_variants=list(variants))
        return f"{registry}/{repository}:{tag}"

    def debian_image(platforms: list[str]) -> asyncio.Task[str]:
        """One Debian image per platform set, shared by the stand-ins that need it (arm64 waits on its own)."""
        key = ",".join(sorted(platforms))
        if key not in debian_images:
            debian_images[key] = asyncio.ensure_future(publish_debian(sorted(platforms)))
        return debian_images[key]

    async def stand_in(image: str, platforms: list[str]) -> tuple[str, str]:
        recipe = RECIPES[images[image]]
        repository, production_tag = docker_hub_path(image)
        tag = recipe_tag(recipe)
        digest, held = platforms_held(api, repository, tag)
        if not digest or not set(platforms) <= held:
            base = await debian_image(platforms)
            variants = [
                dag.host()
                .directory(str(STAND_INS))
                .docker_build(
                    dockerfile=f"{recipe}.Dockerfile",
                    platform=dagger.Platform(p),
                    build_args=[dagger.BuildArg(name="DEBIAN_IMAGE", value=base)],
                )
                for p in platforms
            ]
            ref = await dag.container().publish(f"{registry}/{repository}:{tag}", platform_variants=variants)
            digest = ref.rpartition("@")[2]
        api.retag(repository, tag, production_tag)  # the name the Dockerfiles and the SDK runtime pull
        return image, f"{registry}/{repository}:{production_tag}@{digest}"

    async def tool(image: str) -> tuple[str, str]:
        repository, production_tag = docker_hub_path(image)
        binary = await asyncio.to_thread(tool_binary, image)
        with binary.open("rb") as content:
            tag = f"stand-in-{SUITE}-{production_tag}-{hashlib.file_digest(content, 'sha256').hexdigest()[:10]}"
        digest, held = platforms_held(api, repository, tag)
        if not digest or HOST not in held:
            path = TOOLS[image][1]
            base = await debian_image([HOST])
            # Run once per signature, SBOM and check.
            ctr = (dag.container(platform=dagger.Platform(HOST)).from_(base)
                   .without_file(CA_TOOL)
                   .with_file(path, dag.host().file(str(binary))).with_entrypoint([path]))
            ref = await dag.container().publish(f"{registry}/{repository}:{tag}", platform_variants=[ctr])
            digest = ref.rpartition("@")[2]
        api.retag(repository, tag, production_tag)
        return image, f"{registry}/{repository}:{production_tag}@{digest}"

    return dict(await asyncio.gather(*(stand_in(image, platforms) for image, platforms in plan.items()),
                                     *(tool(image) for image in (TOOLS if tools else ()))))


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", choices=[HOST, "linux/arm64"], help="default: both")
    parser.add_argument("--ci", action="store_true", help="arm64 only for the smallest image (what CI builds)")
    parser.add_argument("--module-base", action="store_true", help="only the module's Python base, engine platform")
    args = parser.parse_args(argv)
    plan = {module_base(): [HOST]} if args.module_base else wanted(args.ci, args.platform or [HOST, "linux/arm64"])
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        for image, ref in (await publish(plan, tools=not args.module_base)).items():
            print(f"{image:32} {ref}")


if __name__ == "__main__":
    asyncio.run(main())
