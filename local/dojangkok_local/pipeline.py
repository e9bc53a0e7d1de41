"""The pipeline's main job end to end on local defaults: what `scripts/pipeline` runs.

Local engine and registry, stand-in bases under their production names, moto server (+ our CodeDeploy lifecycle)
for AWS and the GCP fake, then the very `dagger call` lines GitHub Actions runs, through the released CLI:

    dagger call … test                                 every service's tests, inside containers
    dagger call … deploy --env dev --branch <branch> --commit <HEAD>
                                                       build, publish, sign, verify, roll out on both clouds

where `…` declares the local registry, the emulators and a local cosign key pair once (with-registry, with-aws,
with-gcp, with-signing).
Everything listens on 127.0.0.1; nothing reaches a cloud.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import dagger

from dojangkok_local import ROOT, bases, emulator_polls, engine, signing
from dojangkok_local.aws.infra import provision
from dojangkok_local.aws.server import aws_emulator
from dojangkok_local.engine.cli import Emulated, call, overrides
from dojangkok_local.gcp.seed import seed_environment
from dojangkok_local.gcp.server import running as gcp_fake
from dojangkok_local.registry import engine_registry

# The emulators finish a deploy in seconds: poll as often as the setting allows (same code path as production).
FAST_POLLS = overrides(emulator_polls("dev"))


def current_branch() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() != "HEAD" else "main"


def current_commit() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def step(title: str) -> float:
    print(f"\n\033[1m== {title}\033[0m", file=sys.stderr, flush=True)
    return time.monotonic()


async def stand_ins(platforms: list[str]) -> None:
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        await bases.publish(bases.wanted(ci=False, platforms=platforms))


def run(platforms: list[str] | None, branch: str) -> None:
    started = step("engine and registry")
    engine.attach()
    step("stand-in base images under their production names (first run bootstraps Debian; arm64 under qemu)")
    asyncio.run(stand_ins(platforms or [bases.HOST, "linux/arm64"]))
    platform_args = [a for p in platforms or [] for a in ("--platform", p)]
    with aws_emulator(step_seconds=0.2, minute_seconds=0.2) as aws, gcp_fake(tick_seconds=0.2) as gcp:
        step(f"emulators: AWS {aws.endpoint}, GCP {gcp.endpoint}")
        provision(aws.endpoint, env="dev")
        seed_environment(gcp.endpoint, "dev")
        gcp.settle()
        commit = current_commit()  # the provenance names it; without git, images go unsigned
        keys = signing.key_pair() if commit else None
        local = Emulated(engine_registry(), aws.endpoint, gcp.endpoint, keys).arguments()

        step("dagger call test: every service's tests inside its Dockerfile's test stage")
        print(call("test", "summary", stream=True))

        built = ", ".join(platforms or ["catalogue platforms"])
        signed = f"sign and verify ({keys.public_key}), " if keys else ""
        step(f"dagger call deploy --env dev --branch {branch}: build {built}, publish to the local registry, "
             f"{signed}roll out on both emulated clouds")
        commit_args = ["--commit", commit] if commit else []
        print(call(*FAST_POLLS, *local, "deploy", "--env", "dev", "--branch", branch, *commit_args, *platform_args,
                   stream=True))
    print(f"\npipeline finished in {time.monotonic() - started:.0f}s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", help="build for these platforms only (default: catalogue's)")
    parser.add_argument("--branch", default=current_branch(), help="branch of the dev release (default: git's)")
    args = parser.parse_args(argv)
    run(args.platform, args.branch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
