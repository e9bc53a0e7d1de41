"""Each zero-downtime scenario as a picture: what users got, second by second, while the CLI call ran.

Three panels over the same seconds (0 = the call's start): requests answered per second by each release (failed
ones apart), failed requests per second, and the p95 latency of the requests sent in that second; vertical lines
mark the call's end, the listener switch (Blue/Green) and each pool step (an instance taken in, or draining).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dojangkok_local.load import Sample
from dojangkok_local.zero_downtime import Outcome


@dataclass(frozen=True)
class PerSecond:
    seconds: list[int]  # each bin's start, from the call's start
    answered: dict[str, list[int]]  # release -> requests it answered in each second (failures apart)
    failed: list[int]
    p95_ms: list[float | None]  # None: no request left in that second


def per_second(samples: list[Sample], started: float, release_of: Callable[[str], str]) -> PerSecond:
    """The samples binned by the second they left in, relative to `started` (time.monotonic())."""
    if not samples:
        return PerSecond([], {}, [], [])
    first = math.floor(min(s.sent for s in samples) - started)
    last = math.floor(max(s.sent for s in samples) - started)
    seconds = list(range(first, last + 1))
    answered: dict[str, list[int]] = {}
    failed = [0] * len(seconds)
    latencies: list[list[float]] = [[] for _ in seconds]
    for s in samples:
        i = math.floor(s.sent - started) - first
        latencies[i].append(s.latency * 1000)
        if s.failed:
            failed[i] += 1
            continue
        answered.setdefault(release_of(s.server) if s.server else "nobody", [0] * len(seconds))[i] += 1
    return PerSecond(seconds, answered, failed, [_p95(values) for values in latencies])


def _p95(values: list[float]) -> float | None:
    """The nearest-rank 95th percentile, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def draw(outcome: Outcome, release_of: Callable[[str], str], path: Path) -> Path:
    """`outcome` as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    series = per_second(outcome.samples, outcome.started, release_of)
    figure, (answered, failed, latency) = plt.subplots(3, 1, sharex=True, figsize=(10, 6.5),
                                                       height_ratios=(3, 1.2, 2))
    bottom = [0] * len(series.seconds)
    for release, counts in sorted(series.answered.items()):
        answered.bar(series.seconds, counts, width=1, align="edge", bottom=bottom, label=release)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    answered.set_ylabel("answered / s")
    answered.legend(title="release", loc="lower left", fontsize="small")
    failed.bar(series.seconds, series.failed, width=1, align="edge", color="tab:red")
    failed.set_ylabel("failed / s")
    failed.set_ylim(0, max([*series.failed, 1]) * 1.2)
    if series.seconds:
        latency.stairs([math.nan if v is None else v for v in series.p95_ms],
                       [*series.seconds, series.seconds[-1] + 1], color="tab:purple", linewidth=1.5)
    latency.set_ylabel("p95 ms")
    latency.set_xlabel("seconds from the call's start")
    for axes in (answered, failed, latency):
        axes.axvline(0, color="black", linewidth=1)
        for at, what in outcome.marks:
            style = {"switch": ("tab:red", "-"), "call ended": ("black", "-")}.get(what, ("tab:gray", ":"))
            axes.axvline(at, color=style[0], linestyle=style[1], linewidth=1)
    for at, what in labels(outcome.marks):  # labelled once, on the top panel
        answered.annotate(what, (at, 1), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                          va="top", ha="right")
    summary = outcome.summary
    figure.suptitle(f"{outcome.scenario} ({outcome.service}): {summary.requests} requests, {summary.failed} failed, "
                    f"p95 {summary.p95_ms:g} ms, call {outcome.deploy_seconds:g} s")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def labels(marks: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """One label per kind of mark within a second: pool steps by what happened ("2 in", "1 draining"), not by
    instance, so the steps of one rollout stay readable."""
    merged: list[tuple[float, str, int]] = []
    for at, what in sorted(marks):
        kind = what if what in ("switch", "call ended") else what.rsplit(" ", 1)[-1]
        if merged and merged[-1][1] == kind and at - merged[-1][0] < 1:
            merged[-1] = (merged[-1][0], kind, merged[-1][2] + 1)
        else:
            merged.append((at, kind, 1))
    return [(at, kind if kind in ("switch", "call ended") else f"{n} {kind}") for at, kind, n in merged]


def file_name(scenario: str) -> str:
    """A scenario's picture file, e.g. "blue/green release" -> blue-green-release.png."""
    return re.sub(r"[^a-z0-9]+", "-", scenario.lower()).strip("-") + ".png"
