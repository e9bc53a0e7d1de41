"""The pipeline's main job end to end on local defaults: what `scripts/pipeline` runs.

Local engine and registry, stand-in bases, moto server (+ our CodeDeploy lifecycle) for AWS and the GCP fake,
then the module's own functions, exactly as `dagger call` would run them:

    test  ->  deploy --env dev --branch <current branch>   (deploy = build + publish + roll out)

Everything listens on 127.0.0.1; nothing reaches a cloud.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import dagger
from dagger import dag

from . import bases, call, engine
from .aws import aws_emulator
from .aws_infra import provision
from .gcp import running as gcp_fake
from .gcp_seed import seed_environment


def current_branch() -> str:
    out = subprocess.run(
        ["git", "-C", str(engine.ROOT), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True
    )
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() != "HEAD" else "main"


def step(title: str) -> float:
    print(f"\n\033[1m== {title}\033[0m", flush=True)
    return time.monotonic()


async def run(platforms: list[str] | None, branch: str) -> None:
    from dojangkok.environments import Environment
    from dojangkok.main import Dojangkok

    started = step("engine and registry")
    engine.start()
    with aws_emulator(step_seconds=0.2, minute_seconds=0.2) as aws, gcp_fake(tick_seconds=0.2) as gcp:
        step(f"emulators: AWS {aws.endpoint}, GCP {gcp.endpoint}")
        provision(aws.endpoint, env="dev")
        seed_environment(gcp.endpoint, "dev")
        gcp.settle()
        async with dagger.connection(dagger.Config(log_output=sys.stderr)):
            step("stand-in base images (first run bootstraps Debian; arm64 runs under qemu)")
            await bases.publish(sorted(bases.NEEDED))
            base = [f"{arg}={ref}" for arg, ref in bases.build_args().items()]
            pipeline = Dojangkok(source=call.source_directory())

            step("test: every service's tests inside its Dockerfile's test stage")
            print((await pipeline.test(base=base)).summary())

            step(f"deploy --env dev --branch {branch}: build {'/'.join(platforms or ['catalogue platforms'])}, "
                 "publish to the local registry, roll out on both emulated clouds")
            print(
                await pipeline.deploy(
                    env=Environment.dev,
                    branch=branch,
                    platform=platforms,
                    base=base,
                    registry=engine.registry(),
                    aws_access_key_id=dag.set_secret("local-aws-id", "emulator"),
                    aws_secret_access_key=dag.set_secret("local-aws-key", "emulator"),
                    aws_endpoint_url=aws.endpoint,
                    gcp_endpoint=gcp.endpoint,
                    override=["DOJANGKOK_DEV_TIMEOUTS_POLL_SECONDS=1"],  # emulators answer in seconds
                )
            )
    print(f"\npipeline finished in {time.monotonic() - started:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", help="build for these platforms only (default: catalogue's)")
    parser.add_argument("--branch", default=current_branch(), help="branch of the dev release (default: git's)")
    args = parser.parse_args(argv)
    asyncio.run(run(args.platform, args.branch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
