"""Where a test run's time went: each phase of scripts/test (set-up steps and tiers) and the slowest tests.

scripts/test appends one line per phase to `phases.tsv` in its times directory (name, seconds, exit status,
whether it ran beside others) and has every pytest run write a JUnit report there; this prints both as tables.

    python -m dojangkok_local.timings DIR [--slowest 25] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: int
    status: int
    background: bool  # ran beside the foreground steps: its time overlaps theirs


@dataclass(frozen=True)
class TestTime:
    test: str
    seconds: float
    tier: str


def phases(directory: Path) -> list[Phase]:
    path = directory / "phases.tsv"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        name, seconds, status, where = line.split("\t")
        rows.append(Phase(name, int(seconds), int(status), where == "background"))
    return rows


def slowest(directory: Path, count: int = 25) -> list[TestTime]:
    """The slowest tests of every JUnit report in the directory (set-up, call and teardown together)."""
    times = []
    for report in sorted(directory.glob("junit-*.xml")):
        tier = report.stem.removeprefix("junit-")
        for case in ET.parse(report).iter("testcase"):  # noqa: S314 - our own pytest run's report
            test = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
            times.append(TestTime(test, float(case.get("time") or 0), tier))
    return sorted(times, key=lambda t: t.seconds, reverse=True)[:count]


def render(directory: Path, count: int) -> list[Table]:
    steps = Table(title="scripts/test: where the time went")
    for column in ("phase", "seconds", "min", "result", "ran"):
        steps.add_column(column, justify="right" if column in ("seconds", "min") else "left")
    for p in phases(directory):
        result = "ok" if p.status == 0 else f"exit {p.status}"
        steps.add_row(escape(p.name), str(p.seconds), f"{p.seconds / 60:.1f}", result,
                      "beside the others" if p.background else "in turn")
    tests = Table(title=f"the {count} slowest tests (set-up + call + teardown)")
    for column in ("test", "tier", "seconds"):
        tests.add_column(column, justify="right" if column == "seconds" else "left")
    for t in slowest(directory, count):
        tests.add_row(escape(t.test), t.tier, f"{t.seconds:.1f}")
    return [steps, tests]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojangkok_local.timings", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="the times directory of a scripts/test run")
    parser.add_argument("--slowest", type=int, default=25, help="how many of the slowest tests to list")
    parser.add_argument("--json", action="store_true", help="the same data as JSON")
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps({"phases": [asdict(p) for p in phases(args.directory)],
                          "slowest": [asdict(t) for t in slowest(args.directory, args.slowest)]}))
        return 0
    console = Console(width=None if sys.stdout.isatty() else 160)
    for table in render(args.directory, args.slowest):
        console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
