"""Benchmark of zero downtime: every deploy scenario through the real CLI, with users' requests flowing.

    scripts/bench-zero-downtime [--json] [--charts DIR] [aws] [gcp]   (no cloud named: both)

Per cloud, one stack (dojangkok_local.zero_downtime): the first release is deployed unmeasured, then each scenario
runs under a steady load through the load balancer — Blue/Green (frontend): a second release, a rollback, a release
that cannot start (CodeDeploy rolls back); rolling (ai-server, whose releases here answer users in a second, so
requests are in flight whenever an instance leaves): a second release, a rollback, a release that cannot start (the
group is put back), the same kind of release with connection draining off, to show what draining saves, and a
release of vLLM's image with a stand-in for its GPU server.
Prints requests, failed, latency percentiles, which releases answered, switch and call time, and broken promises.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dojangkok_local import engine
from dojangkok_local.bench.charts import draw, file_name
from dojangkok_local.registry import engine_registry
from dojangkok_local.zero_downtime import CANNOT_START, SLOW, VLLM_STAND_IN, Outcome, Release, Stack

# cloud -> (service, first release, second release, the one that cannot start)
RELEASES = {
    "aws": ("frontend", Release("r1"), Release("r2"), Release("broken", (CANNOT_START["frontend"],))),
    "gcp": ("ai-server", Release("slow-r1", (SLOW,)), Release("slow-r2", (SLOW,)),
            Release("broken", (CANNOT_START["ai-server"],))),
}

UNDRAINED = Release("slow-r3", (SLOW,))  # rolled out with connection draining off
VLLM = (Release("vllm-r1", (VLLM_STAND_IN,)), Release("vllm-r2", (VLLM_STAND_IN,)))


def scenarios(stack: Stack, cloud: str) -> Iterator[Outcome]:
    service, first, second, broken = RELEASES[cloud]
    kind = "blue/green" if cloud == "aws" else "rolling"
    stack.deploy(service, first)
    yield stack.measure(f"{kind} release", service, lambda: stack.deploy(service, second), expect=second.name)
    yield stack.measure(f"{kind} rollback", service, lambda: stack.rollback(service), expect=first.name)
    yield stack.measure(f"{kind} release that cannot start", service, lambda: stack.deploy(service, broken),
                        expect=first.name, never=broken.name)
    if cloud == "gcp":
        drained, stack.gcp_traffic.draining_seconds = stack.gcp_traffic.draining_seconds, 0
        try:
            yield stack.measure("rolling release, draining off", service, lambda: stack.deploy(service, UNDRAINED),
                                expect=UNDRAINED.name)
        finally:
            stack.gcp_traffic.draining_seconds = drained
        first, second = VLLM
        stack.deploy("vllm", first)
        yield stack.measure("rolling release, vLLM stand-in", "vllm", lambda: stack.deploy("vllm", second),
                            expect=second.name)


def run(clouds: list[str], emit: Callable[[Outcome], None], charts: Path | None = None) -> list[Outcome]:
    """Every scenario of `clouds`; with `charts`, each one drawn there as a PNG (bench.charts)."""
    engine.attach()
    outcomes = []
    for cloud in clouds:
        with Stack(engine_registry()) as stack:
            for outcome in scenarios(stack, cloud):
                emit(outcome)
                outcomes.append(outcome)
                if charts is not None:
                    draw(outcome, stack.release_of, charts / file_name(outcome.scenario))
    return outcomes


def table(outcomes: list[Outcome]) -> Table:
    grid = Table(title="Zero downtime: requests through the load balancer during each CLI call")
    for column in ("scenario", "call", "requests", "failed", "p50 ms", "p95 ms", "p99 ms", "answered by",
                   "switch s", "call s", "broken promises"):
        grid.add_column(column, justify="right" if column.endswith(("s", "ms", "requests", "failed")) else "left")
    for o in outcomes:
        s = o.summary
        answered = ", ".join(f"{release or 'nobody'} {n}" for release, n in s.served_by.items())
        grid.add_row(o.scenario, "ok" if o.succeeded else "failed", str(s.requests), str(s.failed), f"{s.p50_ms:g}",
                     f"{s.p95_ms:g}", f"{s.p99_ms:g}", answered,
                     "-" if o.switch_seconds is None else f"{o.switch_seconds:g}", f"{o.deploy_seconds:g}",
                     "; ".join(o.problems) or "none")
    return grid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-zero-downtime", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object a scenario, a line each")
    parser.add_argument("--charts", type=Path, metavar="DIR",
                        help="draw each scenario into DIR as a PNG (README's come from docs/zero-downtime)")
    parser.add_argument("clouds", nargs="*", metavar="aws|gcp", help="the clouds to run (default: both)")
    args = parser.parse_args(argv)
    if unknown := set(args.clouds) - set(RELEASES):
        parser.error(f"unknown cloud {', '.join(sorted(unknown))}: choose aws or gcp")
    clouds = args.clouds or list(RELEASES)
    console = Console(stderr=True)

    def emit(outcome: Outcome) -> None:
        if args.json:
            shown = {k: v for k, v in asdict(outcome).items() if k not in ("output", "samples", "started")}
            print(json.dumps(shown), flush=True)
        else:
            console.print(f"{outcome.scenario}: {outcome.summary.requests} requests, {outcome.summary.failed} failed")

    outcomes = run(clouds, emit, args.charts)
    if not args.json:  # wide enough for the whole table when the output goes to a file
        Console(width=None if sys.stdout.isatty() else 220).print(table(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
