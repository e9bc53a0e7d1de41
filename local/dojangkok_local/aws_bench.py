"""Benchmark of the AWS Blue/Green driver against the local emulator: API calls per deploy and overhead.

    scripts/bench-deploy-aws [--json] [--step-seconds 0.05]

Runs the scenarios the pipeline meets (a release, a release whose green fleet is unhealthy, a release that hangs
until the timeout stops it, a rollback, both services at once) and prints, per run: outcome, wall time, time spent
waiting between status polls, the overhead beyond that wait (bundle, upload, API round trips), and the API calls by
operation as botocore counted them (retries excluded) next to what reached the emulator.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
from dojangkok.deploy import DeployResult
from dojangkok.deploy.blue_green import Backoff, BlueGreen, aws_clients

from dojangkok_local.aws import AwsEmulator, aws_emulator
from dojangkok_local.aws_infra import ACCOUNT, Infra, provision


@dataclass
class Measured:
    scenario: str
    service: str
    outcome: str
    seconds: float
    waited: float
    api_calls: dict[str, int]
    wire_calls: int
    detail: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def overhead(self) -> float:
        return max(self.seconds - self.waited, 0.0)


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


def _image(infra: Infra, service: str, fill: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{infra.region}.amazonaws.com/dojangkok/{service}@sha256:{fill * 64}"


def run(step_seconds: float) -> tuple[list[Measured], int]:
    with aws_emulator(step_seconds=step_seconds, minute_seconds=step_seconds) as emulator:
        session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench")  # noqa: S106
        infra = provision(emulator.endpoint, env="b", session=session)
        clients = aws_clients(infra.region, emulator.endpoint, session=session)
        waits = _Waits()

        def driver(timeout: float = 120) -> BlueGreen:
            backoff = Backoff(step_seconds, 2, step_seconds * 8)
            return BlueGreen(clients, bucket=infra.bucket, timeout=timeout, backoff=backoff, sleep=waits.sleep)

        def measure(scenario: str, action: Callable[[], DeployResult], alone: bool = True) -> Measured:
            waits.reset()
            if alone:  # concurrent runs share the emulator's log; _concurrent reports their sum
                emulator.reset_calls()
            result = action()
            return Measured(
                scenario,
                result.service,
                str(result.outcome),
                result.seconds,
                round(waits.total, 3),
                result.api_calls,
                len(emulator.calls()),
                result.detail,
            )

        def deploy(service: str, fill: str, timeout: float = 120) -> Callable[[], DeployResult]:
            group = infra.services[service].deployment_group
            ref = _image(infra, service, fill)
            return lambda: driver(timeout).deploy(service, ref, application=infra.application, deployment_group=group)

        fe = infra.services["frontend"].deployment_group
        results = [measure("release", deploy("frontend", "a")), measure("second release", deploy("frontend", "b"))]
        _set_green(emulator, infra.application, fe, "unhealthy")
        results.append(measure("green unhealthy", deploy("frontend", "c")))
        _set_green(emulator, infra.application, fe, "hang")
        results.append(measure("timeout -> stop", deploy("frontend", "d", timeout=step_seconds * 40)))
        _set_green(emulator, infra.application, fe, "healthy")
        results.append(
            measure(
                "rollback",
                lambda: driver().rollback("frontend", application=infra.application, deployment_group=fe),
            )
        )
        results += _concurrent(emulator, measure, deploy)
        planned = driver().plan(
            "frontend", _image(infra, "frontend", "e"), application=infra.application, deployment_group=fe
        )
        return results, len(planned)


def _concurrent(emulator: AwsEmulator, measure, deploy) -> list[Measured]:
    out: dict[str, Measured] = {}
    emulator.reset_calls()
    threads = [
        threading.Thread(target=lambda s=s: out.setdefault(s, measure(f"both at once ({s})", deploy(s, "f"), False)))
        for s in ("frontend", "backend")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for measured in out.values():
        measured.wire_calls = len(emulator.calls())  # both deploys together
    return [out["frontend"], out["backend"]]


def _set_green(emulator: AwsEmulator, application: str, group: str, health: str) -> None:
    assert emulator.codedeploy is not None
    emulator.codedeploy.set_green_health(application, group, health)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-deploy-aws", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.add_argument("--step-seconds", type=float, default=0.05, help="emulated duration of a lifecycle step")
    args = parser.parse_args(argv)
    results, planned = run(args.step_seconds)
    if args.json:
        rows = [{**r.__dict__, "overhead": round(r.overhead, 3)} for r in results]
        print(json.dumps({"planned_calls": planned, "runs": rows}, indent=2))
        return 0
    print(f"{'scenario':<28} {'outcome':<12} {'wall s':>7} {'waited':>7} {'overhead':>8} {'calls':>5} {'wire':>5}")
    for r in results:
        calls = sum(r.api_calls.values())
        print(
            f"{r.scenario:<28} {r.outcome:<12} {r.seconds:>7.2f} {r.waited:>7.2f} {r.overhead:>8.3f} "
            f"{calls:>5} {r.wire_calls:>5}"
        )
    print("\nAPI calls per run (botocore before-call; polls are codedeploy.GetDeployment):")
    for r in results:
        print(f"  {r.scenario:<28} " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r.api_calls).items())))
    print(f"\nplan lists {planned} calls (polls shown once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
