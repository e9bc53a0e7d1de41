"""Benchmark of the AWS Blue/Green driver against the local emulator: API calls per deploy and overhead.

    scripts/bench-deploy aws [--json]   (or: python -m dojangkok_local.bench.deploy_aws [--json] [--step-seconds 0.05])

Runs, per service, what the pipeline meets (a first and a second release, a release whose green fleet is unhealthy
and is rolled back, a rollback on demand), then a release that hangs until the timeout stops it and both services at
once. For each: outcome, the API calls by operation as botocore counted them (retries excluded) next to what reached
the emulator, wall time, time asleep between status polls, and the overhead beyond that wait (bundle, upload, API
round trips). The emulator's lifecycle runs on real time, so the driver really sleeps here.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable

import boto3
from dojangkok.deploy import DeployResult
from dojangkok.deploy.blue_green import BlueGreen, aws_clients
from dojangkok.deploy.common import Backoff

from dojangkok_local import BUNDLE_DIR
from dojangkok_local.aws.infra import ecr_image, provision
from dojangkok_local.aws.server import AwsEmulator, aws_emulator
from dojangkok_local.emulator_common import Measured, report

SERVICES = ("frontend", "backend")


class _Waits:
    """time.sleep that adds up how long the driver spent waiting (per thread, for concurrent runs)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def sleep(self, seconds: float) -> None:
        self._local.total = self.total + seconds
        time.sleep(seconds)

    @property
    def total(self) -> float:
        return getattr(self._local, "total", 0.0)

    def reset(self) -> None:
        self._local.total = 0.0


def run(step_seconds: float) -> tuple[list[Measured], int]:
    """The measured runs, and how many calls `plan` lists for one deploy."""
    with aws_emulator(step_seconds=step_seconds, minute_seconds=step_seconds) as emulator:
        session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench")  # noqa: S106
        infra = provision(emulator.endpoint, env="b", session=session)
        clients = aws_clients(infra.region, emulator.endpoint, session=session)
        waits = _Waits()

        def driver(timeout: float = 120) -> BlueGreen:
            backoff = Backoff(step_seconds, 2, step_seconds * 8)
            return BlueGreen(clients, bucket=infra.bucket, timeout=timeout, backoff=backoff, sleep=waits.sleep,
                             bundle_dir=BUNDLE_DIR)

        def measure(scenario: str, action: Callable[[], DeployResult], alone: bool = True) -> Measured:
            waits.reset()
            if alone:  # concurrent runs share the emulator's log; _concurrent reports their sum
                emulator.reset_calls()
            result = action()
            return Measured("aws", scenario, result.service, str(result.outcome), result.seconds,
                            round(waits.total, 3), result.api_calls, len(emulator.calls()), result.detail)

        def deploy(service: str, fill: str, timeout: float = 120) -> Callable[[], DeployResult]:
            group = infra.services[service].deployment_group
            ref = ecr_image(service, fill, infra.region)
            return lambda: driver(timeout).deploy(service, ref, application=infra.application, deployment_group=group)

        def rollback(service: str) -> Callable[[], DeployResult]:
            group = infra.services[service].deployment_group
            return lambda: driver().rollback(service, application=infra.application, deployment_group=group)

        results = []
        for service in SERVICES:
            group = infra.services[service].deployment_group
            results += [measure("first release", deploy(service, "a")), measure("release", deploy(service, "b"))]
            emulator.codedeploy.set_green_health(infra.application, group, "unhealthy")
            results.append(measure("failed release, rolled back", deploy(service, "c")))
            emulator.codedeploy.set_green_health(infra.application, group, "healthy")
            results.append(measure("rollback", rollback(service)))
        fe = infra.services["frontend"].deployment_group
        emulator.codedeploy.set_green_health(infra.application, fe, "hang")
        results.append(measure("timeout, stopped", deploy("frontend", "d", timeout=step_seconds * 40)))
        emulator.codedeploy.set_green_health(infra.application, fe, "healthy")
        results += _concurrent(emulator, measure, deploy)
        planned = driver().plan(
            "frontend", ecr_image("frontend", "e", infra.region), application=infra.application, deployment_group=fe
        )
        return results, len(planned)


def _concurrent(emulator: AwsEmulator, measure, deploy) -> list[Measured]:
    out: dict[str, Measured] = {}
    emulator.reset_calls()
    threads = [
        threading.Thread(target=lambda s=s: out.setdefault(s, measure("release, both at once", deploy(s, "f"), False)))
        for s in SERVICES
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for measured in out.values():
        measured.wire_calls = len(emulator.calls())  # both deploys together
    return [out[s] for s in SERVICES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojangkok_local.bench.deploy_aws",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object a run")
    parser.add_argument("--step-seconds", type=float, default=0.05, help="emulated duration of a lifecycle step")
    args = parser.parse_args(argv)
    results, planned = run(args.step_seconds)
    report(results, as_json=args.json, note=f"polls are codedeploy.GetDeployment; plan lists {planned} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
