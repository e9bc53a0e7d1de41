"""What one container exec costs on the engine, with and without `update-ca-certificates` in the image. Prints
numbers, asserts nothing.

    python -m dojangkok_local.bench.exec_cost [--rounds 5]

Where the host trusts extra CAs (/usr/local/share/ca-certificates, as this machine's egress CA), the engine adds them
to every Debian container around each exec: with `update-ca-certificates` in the image it runs it before and after
the exec, without it it appends them to the bundle. The python stand-in (the module's runtime) and the tool images
go without it (dojangkok_local.bases); each row runs `true` on the Debian root filesystem, cache busted per round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import dagger

from dojangkok_local import bases, engine


async def seconds(ctr: dagger.Container, rounds: int) -> list[float]:
    await ctr.sync()
    times = []
    for _ in range(rounds):
        start = time.monotonic()
        await ctr.with_env_variable("DOJANGKOK_BENCH_ROUND", str(time.time_ns())).with_exec(["true"]).sync()
        times.append(time.monotonic() - start)
    return times


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    engine.attach()
    extra = sorted(p.name for p in Path("/usr/local/share/ca-certificates").glob("*.crt"))
    print(f"host's extra CAs the engine adds: {', '.join(extra) or 'none (no exec pays for them)'}")
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        debian = bases.debian(bases.HOST)
        for label, ctr in (("with update-ca-certificates", debian),
                           ("without (python stand-in, tools)", debian.without_file(bases.CA_TOOL))):
            times = await seconds(ctr, args.rounds)
            print(f"one exec, {label:34} median {statistics.median(times):5.2f} s  "
                  f"(min {min(times):.2f}, max {max(times):.2f}, {args.rounds} rounds)")


if __name__ == "__main__":
    asyncio.run(main())
