"""Faults injected mid-release, and where each leaves the clouds: the fault table of the README.

    scripts/bench-faults [--json]      (or: python -m dojangkok_local.bench.faults [--json])

Each row starts from fresh emulators that run release 1 on frontend (CodeDeploy Blue/Green) and ai-server (a GCP
rolling update), takes the deploy lock as `dagger call deploy` does, injects one fault, and rolls release 2 out to
both clouds at once with the module's release runner (the code deploy runs in its function container). It prints
each service's outcome, which release each cloud runs at the end (read from the clouds' state, not from the
runner's report), whether the lock was free once the call returned, and the seconds the release took. `latest`
is not in the table: the runner never moves it, `deploy` does once a release runs everywhere (the engine tier's
test_release proves that part).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from dojangkok import release
from dojangkok.deploy.lock import LockRecord

from dojangkok_local import emulator_polls, settings
from dojangkok_local.aws.server import EmulatorControl
from dojangkok_local.drivers import fresh_clouds, numbered_release, what_runs
from dojangkok_local.gcp.server import FakeGcpServer

ENV = "dev"
SETTINGS = settings(ENV, environ=emulator_polls(ENV))


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[EmulatorControl, FakeGcpServer], None]


FAULTS = (
    Fault("none (release 2 lands)", lambda aws, gcp: None),
    *(Fault(f"CodeDeploy {operation} refused", lambda aws, gcp, o=operation, a=after: aws.fail(
        o, "AccessDenied" if o == "PutObject" else "AccessDeniedException", after=a))
      for operation, after in (("GetDeploymentGroup", 1), ("PutObject", 1), ("CreateDeployment", 0),
                               ("GetDeployment", 2))),
    Fault("AWS session expired mid-wait", lambda aws, gcp: aws.fail("GetDeployment", "ExpiredTokenException",
                                                                    count=2, after=2)),
    Fault("frontend green unhealthy", lambda aws, gcp: aws.set_green_health(
        SETTINGS.aws.codedeploy_application, SETTINGS.aws.groups["frontend"].deployment_group, "unhealthy")),
    Fault("GCP switch refused (403)", lambda aws, gcp: gcp.fail("compute.instanceGroupManagers.patch", status=403)),
    Fault("GCP group unreadable mid-update", lambda aws, gcp: gcp.fail("compute.instanceGroupManagers.get",
                                                                       status=403, after=2)),
)


def measure(fault: Fault) -> dict:
    with fresh_clouds(SETTINGS) as clouds:
        drivers = clouds.drivers
        asyncio.run(release.run(numbered_release(SETTINGS, 1), drivers))
        one = what_runs(drivers)
        lock = drivers.lock()
        fault.inject(clouds.aws, clouds.gcp)
        started = time.monotonic()
        with lock.held(LockRecord(ENV, "bench", "deploy", "release 2", ("frontend", "ai-server"))):
            results = asyncio.run(release.run(numbered_release(SETTINGS, 2), drivers))
        seconds = time.monotonic() - started
        end = what_runs(drivers)
        return {
            "fault": fault.name,
            **{f"{r.service} outcome": str(r.outcome) for r in results},
            **{f"{name} runs": "release 1" if end[name] == one[name] else "release 2" for name in end},
            "lock free": lock.holder() is None,
            "seconds": round(seconds, 1),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojangkok_local.bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object a fault, a line each")
    args = parser.parse_args(argv)
    rows = [measure(fault) for fault in FAULTS]
    if args.json:
        for row in rows:
            print(json.dumps(row), flush=True)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Faults mid-release: where each cloud ends (release 1 ran before, release 2 was rolled out)")
    for column in rows[0]:
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for row in rows:
        table.add_row(*(("yes" if v else "NO") if isinstance(v, bool) else str(v) for v in row.values()))
    Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
