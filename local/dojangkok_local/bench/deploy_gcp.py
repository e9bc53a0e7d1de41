"""Benchmark of the GCP drivers against the local fake: API calls per deploy and overhead.

    scripts/bench-deploy gcp [--json]      (or: python -m dojangkok_local.bench.deploy_gcp [--json])

Per service, a rolling update (release, release failing health and rolled back, rollback on demand), then the same
through a Cloud Deploy pipeline for ai-server. The drivers wait on a FakeClock (their sleeps only advance it), so
all of the wall time is the drivers' own overhead: building requests, HTTP round trips to 127.0.0.1, parsing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from dojangkok.deploy import DeployResult
from dojangkok.deploy.cloud_deploy import CloudDeploy
from dojangkok.deploy.rolling import RollingUpdate, gcp_clients

from dojangkok_local import startup_template
from dojangkok_local.emulator_common import FakeClock, Measured, report
from dojangkok_local.gcp.seed import (
    GROUPS,
    PIPELINE,
    PROJECT,
    REGION,
    SIZES,
    TARGET,
    ZONE,
    release_image,
    seed_groups,
    seed_pipeline,
)
from dojangkok_local.gcp.server import FakeGcpServer, running


def run() -> list[Measured]:
    with running() as gcp:
        clients = gcp_clients(PROJECT, endpoint=gcp.endpoint)
        clock = FakeClock()

        def rolling() -> RollingUpdate:
            return RollingUpdate(project=PROJECT, zone=ZONE, clients=clients, startup_template=startup_template(),
                                 sleep=clock.sleep, clock=clock)

        seed_groups(clients, rolling(), GROUPS, {s: release_image(s, 1) for s in GROUPS}, SIZES)
        gcp.settle()
        results = []
        for service, group in GROUPS.items():
            label = f"rolling ({SIZES[service]} VMs)"
            results.append(_measure(gcp, f"{label} release", lambda s=service, g=group: rolling().deploy(
                s, release_image(s, 2), group=g)))
            gcp.mark_unhealthy(image=release_image(service, 3))
            results.append(_measure(gcp, f"{label} failed, rolled back", lambda s=service, g=group: rolling().deploy(
                s, release_image(s, 3), group=g)))
            results.append(_measure(gcp, f"{label} rollback", lambda s=service, g=group: rolling().rollback(
                s, group=g)))

        seed_pipeline(clients, PROJECT, REGION, PIPELINE, ("dev", TARGET))
        deploy = CloudDeploy(client=clients.deploy, project=PROJECT, region=REGION, pipeline=PIPELINE, target=TARGET,
                             sleep=clock.sleep, clock=clock)
        for case, release in (("first release", 1), ("release", 2)):
            results.append(_measure(gcp, f"cloud deploy {case}", lambda r=release: deploy.deploy(
                "ai-server", release_image("ai-server", r))))
        gcp.mark_unhealthy(image=release_image("ai-server", 3))
        results.append(_measure(gcp, "cloud deploy failed, rolled back", lambda: deploy.deploy(
            "ai-server", release_image("ai-server", 3))))
        results.append(_measure(gcp, "cloud deploy rollback", lambda: deploy.rollback("ai-server")))
        return results


def _measure(gcp: FakeGcpServer, scenario: str, action: Callable[[], DeployResult]) -> Measured:
    gcp.reset_calls()
    started = time.perf_counter()
    result = action()
    wall = time.perf_counter() - started
    # waited 0: FakeClock sleeps cost no real time.
    return Measured("gcp", scenario, result.service, str(result.outcome), round(wall, 4), 0.0, result.api_calls,
                    len(gcp.calls()), result.detail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojangkok_local.bench.deploy_gcp",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object a run")
    args = parser.parse_args(argv)
    report(run(), as_json=args.json, note="group polls are compute.instanceGroupManagers.get")
    return 0


if __name__ == "__main__":
    sys.exit(main())
