"""CI benchmark: `.ci/run` on a clean clone, cold then warm, its phases side by side. Prints numbers, asserts
nothing.

    python -m dojangkok_local.bench.ci [--cold] [--runs 2] [--ref HEAD]

The clone is made beside this checkout (so `../shared` is beside it too, as in CI) from the committed `--ref`.
`--cold` first empties every cache a fresh machine lacks: the engine's state and registry, the project's cache
(engine binaries, SDK content, root filesystems, tools), Go's module and build caches, Maven's and npm's, pip's.
Without it the first run is as warm as the machine is. Each run is `.ci/run` as CI calls it, with its phase table
kept (DOJANGKOK_TIMES); the runs after the first reuse the clone, as a second CI run on the machine would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dojangkok_local import ROOT, timings

STATE = Path(os.environ.get("DOJANGKOK_STATE", "/var/lib/dojangkok"))


def go_env(name: str) -> Path | None:
    try:
        out = subprocess.run(["go", "env", name], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(out) if out else None


def caches() -> list[Path]:
    """What a fresh machine does not have: every cache the tests fill."""
    home = Path.home()
    found = [STATE, home / ".cache" / "dojangkok", home / ".m2" / "repository", home / ".npm",
             home / ".cache" / "pip", home / ".cache" / "uv", go_env("GOMODCACHE"), go_env("GOCACHE")]
    return [path for path in found if path is not None]


def empty_caches(console: Console) -> None:
    subprocess.run([str(ROOT / "scripts" / "engine"), "stop"], check=False, capture_output=True)
    for path in caches():
        if path.exists():
            console.print(f"emptying {path}")
            # Go's module cache is read-only by design: make it writable before removing it.
            subprocess.run(["chmod", "-R", "u+w", str(path)], check=False, capture_output=True)
            shutil.rmtree(path, ignore_errors=True)


def clone(ref: str) -> Path:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], capture_output=True, text=True,
                            check=True).stdout.strip()
    target = Path(tempfile.mkdtemp(prefix="bench-ci-", dir=ROOT.parent))
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "--quiet", commit], check=True)
    return target


def run_ci(checkout: Path, times: Path) -> tuple[int, float]:
    environ = {**os.environ, "CI": "true", "DOJANGKOK_TIMES": str(times)}
    start = time.monotonic()
    with open(times.parent / f"{times.name}.log", "w") as log:
        status = subprocess.run(["bash", ".ci/run"], cwd=checkout, env=environ, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT).returncode
    return status, time.monotonic() - start


def side_by_side(runs: list[tuple[str, Path, int, float]]) -> Table:
    grid = Table(title=".ci/run on a clean clone: seconds per phase")
    grid.add_column("phase")
    for name, *_ in runs:
        grid.add_column(name, justify="right")
    order: list[str] = []
    seconds: dict[tuple[str, str], str] = {}
    for name, times, _, _ in runs:
        for phase in timings.phases(times):
            if phase.name not in order:
                order.append(phase.name)
            mark = "" if phase.status == 0 else f" (exit {phase.status})"
            seconds[(name, phase.name)] = f"{phase.seconds}{' ‖' if phase.background else ''}{mark}"
    for phase in order:
        grid.add_row(phase, *(seconds.get((name, phase), "-") for name, *_ in runs))
    grid.add_row(".ci/run wall clock", *(f"{wall:.0f} ({wall / 60:.1f} min), exit {status}"
                                         for _, _, status, wall in runs))
    return grid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-ci", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="empty every cache first (see above): a fresh machine")
    parser.add_argument("--runs", type=int, default=2, help="runs in the same clone (default 2: cold or as-is, warm)")
    parser.add_argument("--ref", default="HEAD", help="the commit to clone (default HEAD: commit your changes)")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    checkout = clone(args.ref)
    results = Path(tempfile.mkdtemp(prefix="dojangkok-bench-ci-"))
    console.print(f"clone {checkout}, phase tables and logs in {results}")
    if args.cold:
        empty_caches(console)
    runs = []
    for number in range(args.runs):
        name = ("cold" if args.cold else "as is") if number == 0 else f"warm {number}" if args.runs > 2 else "warm"
        times = results / name.replace(" ", "-")
        console.print(f"run {number + 1} of {args.runs} ({name}) ...")
        status, wall = run_ci(checkout, times)
        runs.append((name, times, status, wall))
        console.print(f"  exit {status} after {wall / 60:.1f} min")
    Console(width=None if sys.stdout.isatty() else 160).print(side_by_side(runs))
    console.print("‖ ran beside the other phases (its time overlaps theirs)")
    return max(status for _, _, status, _ in runs)


if __name__ == "__main__":
    sys.exit(main())
