"""API calls and overhead per GCP deploy, against the local fake: `python tests/emulator/gcp/bench_gcp_calls.py`.

Waiting is simulated (the drivers' sleep only advances a fake clock), so the wall time printed is the drivers'
own overhead: building requests, HTTP round trips to 127.0.0.1, parsing responses.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dojangkok.deploy.cloud_deploy import CloudDeploy
from dojangkok.deploy.rolling import RollingUpdate, gcp_clients
from dojangkok_local.gcp import running
from dojangkok_local.gcp_seed import seed_groups, seed_pipeline
from gcp_support import GROUPS, PIPELINE, PROJECT, REGION, SIZES, TARGET, ZONE, FakeClock, image


def row(case: str, result, wall: float) -> None:
    calls = sum(result.api_calls.values())
    detail = ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in result.api_calls.items())
    print(f"{case:<34} {result.outcome!s:<12} {calls:>4} calls  {wall * 1000:7.0f} ms   {detail}")


def main() -> None:
    with running() as gcp:
        clients = gcp_clients(PROJECT, endpoint=gcp.endpoint)
        clock = FakeClock()

        def rolling(**overrides) -> RollingUpdate:
            return RollingUpdate(project=PROJECT, zone=ZONE, templates=clients.templates, groups=clients.groups,
                                 sleep=clock.sleep, clock=clock, **overrides)

        seed_groups(clients, rolling(), GROUPS, {s: image(s, 1) for s in GROUPS}, SIZES)
        gcp.settle()
        for service in GROUPS:
            for case, release, broken in (("deploy", 2, False), ("deploy, fails health", 3, True)):
                if broken:
                    gcp.mark_unhealthy(image=image(service, release))
                started = time.perf_counter()
                result = rolling().deploy(service, image(service, release), group=GROUPS[service])
                row(f"{service} ({SIZES[service]}) {case}", result, time.perf_counter() - started)
            started = time.perf_counter()
            result = rolling().rollback(service, group=GROUPS[service])
            row(f"{service} ({SIZES[service]}) rollback", result, time.perf_counter() - started)

        seed_pipeline(clients, PROJECT, REGION, PIPELINE, ("dev", TARGET))
        deploy = CloudDeploy(client=clients.deploy, project=PROJECT, region=REGION, pipeline=PIPELINE, target=TARGET,
                             sleep=clock.sleep, clock=clock)
        for case, release in (("first release", 1), ("release + rollout", 2)):
            started = time.perf_counter()
            row(f"cloud deploy {case}", deploy.deploy("ai-server", image("ai-server", release)),
                time.perf_counter() - started)
        gcp.mark_unhealthy(image=image("ai-server", 3))
        started = time.perf_counter()
        row("cloud deploy, rollout fails", deploy.deploy("ai-server", image("ai-server", 3)),
            time.perf_counter() - started)
        started = time.perf_counter()
        row("cloud deploy rollback", deploy.rollback("ai-server"), time.perf_counter() - started)


if __name__ == "__main__":
    main()
