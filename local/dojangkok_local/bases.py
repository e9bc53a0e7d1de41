"""Stand-in base images for a machine that cannot reach Docker Hub.

The production Dockerfiles name their bases as build arguments (NODE_IMAGE=node:20-alpine, …). Here we
bootstrap a Debian root filesystem per platform with debootstrap, import it into the engine, build the
small Dockerfiles in local/stand-ins/ on top of it and push everything to the local registry. The
pipeline then gets `build_args()` as its base-image overrides; the production defaults never change.

    python -m dojangkok_local.bases [--platform linux/amd64 --platform linux/arm64]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import dagger
import httpx
from dagger import dag

from . import engine
from .registry import RegistryApi

SUITE = "bookworm"
STAND_INS = engine.ROOT / "local" / "stand-ins"
CACHE = Path(os.environ.get("DOJANGKOK_CACHE", Path.home() / ".cache" / "dojangkok"))
# What each production base is replaced with (Dockerfile ARG -> stand-in name).
ARG_STAND_INS = {
    "NODE_IMAGE": "node",
    "MAVEN_IMAGE": "maven",
    "RUNTIME_IMAGE": "jre",
    "PYTHON_IMAGE": "python",
    "VLLM_IMAGE": "python",
}
# The stand-ins each platform needs: builder stages run on the engine's own platform (amd64 here).
NEEDED = {
    "linux/amd64": ("node", "maven", "jre", "python"),
    "linux/arm64": ("node", "jre", "python"),
}


def repository(name: str) -> str:
    return f"{engine.registry()}/stand-in/{name}"


def reference(name: str) -> str:
    """The stand-in's tag names its recipe (suite + Dockerfile content), so a changed recipe is rebuilt."""
    dockerfile = STAND_INS / f"{name}.Dockerfile"
    recipe = dockerfile.read_bytes() if dockerfile.exists() else b""
    return f"{repository(name)}:{SUITE}-{hashlib.sha256(recipe).hexdigest()[:10]}"


def present(name: str, platforms: list[str]) -> str:
    """reference@digest when the registry already holds the stand-in for all these platforms, else ""."""
    repo, _, tag = reference(name).partition("/")[2].rpartition(":")
    try:
        digest, index = RegistryApi(engine.registry()).manifest(repo, tag)
    except httpx.HTTPError:
        return ""
    have = {f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index.get("manifests", [])}
    return f"{reference(name)}@{digest}" if set(platforms) <= have else ""


def build_args(names: dict[str, str] | None = None) -> dict[str, str]:
    """Base-image build arguments that point every production base at its stand-in."""
    return {arg: reference(name) for arg, name in (names or ARG_STAND_INS).items()}


def rootfs(platform: str) -> Path:
    """A minimal Debian root filesystem for the platform, bootstrapped once and cached."""
    arch = platform.split("/")[1]
    target = CACHE / "bases" / f"debian-{SUITE}-{arch}"
    if (target / ".complete").exists():
        return target
    print(f"[bases] debootstrap {SUITE} {arch} into {target} (once; arm64 runs under qemu)", file=sys.stderr)
    subprocess.run(["rm", "-rf", str(target)], check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["debootstrap", f"--arch={arch}", "--variant=minbase", "--include=ca-certificates", SUITE, str(target)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (target / ".complete").touch()
    return target


def debian(platform: str) -> dagger.Container:
    root = dag.host().directory(str(rootfs(platform)), exclude=["dev/*", "proc/*", "sys/*", ".complete"])
    return (
        dag.container(platform=dagger.Platform(platform))
        .with_rootfs(root)
        .with_env_variable("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    )


# What CI builds: everything for the engine's own platform, and only the Python stand-in for arm64 (the
# smallest image, ai-server, proves arm64; the rest of arm64 runs under qemu and belongs to the full run).
CI = {"linux/amd64": NEEDED["linux/amd64"], "linux/arm64": ("python",)}


async def publish(platforms: list[str], needed: dict[str, tuple[str, ...]] = NEEDED) -> dict[str, str]:
    """Build and push every stand-in the platforms need; return name -> reference@digest."""
    published = {"debian": present("debian", platforms)}
    if not published["debian"]:
        async with asyncio.TaskGroup() as tg:
            for platform in platforms:
                tg.create_task(asyncio.to_thread(rootfs, platform))  # debootstrap both at once
        variants = [debian(p) for p in platforms]
        published["debian"] = await dag.container().publish(reference("debian"), platform_variants=variants)

    async def stand_in(name: str) -> None:
        wanted = [p for p in platforms if name in needed[p]]
        if ref := present(name, wanted):  # already pushed by an earlier run: the registry is the cache
            published[name] = ref
            return
        variants = [
            dag.host()
            .directory(str(STAND_INS))
            .docker_build(
                dockerfile=f"{name}.Dockerfile",
                platform=dagger.Platform(p),
                build_args=[dagger.BuildArg(name="DEBIAN_IMAGE", value=published["debian"])],
            )
            for p in platforms
            if name in needed[p]
        ]
        if variants:
            published[name] = await dag.container().publish(reference(name), platform_variants=variants)

    async with asyncio.TaskGroup() as tg:
        for name in sorted({n for p in platforms for n in needed[p]}):
            tg.create_task(stand_in(name))
    return published


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", choices=sorted(NEEDED), help="default: all")
    parser.add_argument("--ci", action="store_true", help="arm64: only the Python stand-in (what CI builds)")
    args = parser.parse_args(argv)
    engine.start()
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        for name, ref in (await publish(args.platform or sorted(NEEDED), CI if args.ci else NEEDED)).items():
            print(f"{name:8} {ref}")


if __name__ == "__main__":
    asyncio.run(main())
