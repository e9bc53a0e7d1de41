"""Scale-out benchmark through the released CLI: prints numbers, asserts nothing.

    python -m dojangkok_local.bench.scale_out [--service NAME,...] [--probe SERVICE]

Every build runs on an engine started for it on an empty state (`scripts/engine second PORT DIR`, reached over
mutual TLS as a remote engine is), so each figure is a cold one, module load included; the first engine (its cache
untouched) only merges.

1. One service built for each platform: amd64 natively against arm64 under QEMU. The ratio is what a native arm64
   runner removes.
2. A release of the chosen services, every platform of each, pushed by digest: all of it on one engine, against a
   share per platform, each on an engine of its own (a runner per platform), then `merge`. The split's critical path
   is the longer share plus the merge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from dojangkok import catalogue
from dojangkok.catalogue import AMD64, ARM64

from dojangkok_local import engine
from dojangkok_local.bench.build import stand_ins
from dojangkok_local.engine import second
from dojangkok_local.engine.cli import Emulated, call
from dojangkok_local.registry import LocalRegistry

COMMIT = "5ca1e0" + "0" * 34  # the label every share carries; merge checks it


def timed(*args: str, env: Mapping[str, str] | None = None) -> tuple[float, str]:
    start = time.monotonic()
    out = call(*args, env=env)
    return time.monotonic() - start, out


@contextmanager
def cold_engine() -> Iterator[Mapping[str, str]]:
    """An engine on an empty state for the block: the environment that points the CLI at it."""
    with tempfile.TemporaryDirectory(prefix="dojangkok-bench-") as scratch:
        with second.running(Path(scratch), state=Path(scratch) / "engine") as started:
            yield started.env()


def per_platform(service: str) -> None:
    print(f"1. {service} built for one platform on a cold engine (this machine is amd64):")
    seconds = {}
    for platform in (AMD64, ARM64):
        with cold_engine() as env:
            seconds[platform], _ = timed("build", "--service", service, "--platform", platform, env=env)
    print(f"   {AMD64:12} native     {seconds[AMD64]:8.1f} s")
    print(f"   {ARM64:12} QEMU       {seconds[ARM64]:8.1f} s   ratio {seconds[ARM64] / seconds[AMD64]:.1f}x")


def share(registry: str, services: list[str], platforms: list[str]) -> tuple[float, list[str]]:
    """`publish --by-digest` of these platforms on a cold engine: its time and the `--image` values it printed."""
    with cold_engine() as env:
        seconds, out = timed(*Emulated(registry).arguments(), "publish", "--by-digest", "--env", "dev", "--branch",
                             "main", "--commit", COMMIT, "--service", ",".join(services), "--platform",
                             ",".join(platforms), "--format", "json", env=env)
    return seconds, [row["image"] for row in json.loads(out)]


def release(services: list[str]) -> None:
    shipped = sorted({p for s in services for p in catalogue.service(s).platforms})
    print(f"2. a release of {', '.join(services)} ({', '.join(shipped)}), pushed by digest from cold engines:")
    with LocalRegistry() as registry:
        one, _ = share(registry.address, services, shipped)
    with LocalRegistry() as registry:
        shares = {platform: share(registry.address, services, [platform]) for platform in shipped}
        merge, _ = timed(*Emulated(registry.address).arguments(), "merge", "--env", "dev", "--branch", "main",
                         "--commit", COMMIT, "--image", ",".join(i for _, images in shares.values() for i in images))
    path = max(seconds for seconds, _ in shares.values()) + merge
    print(f"   one engine, every platform                    {one:8.1f} s")
    print(f"   an engine per platform: longest share + merge  {path:8.1f} s   ratio {path / one:.2f}")
    for platform, (seconds, _) in shares.items():
        print(f"     {platform} share {seconds:8.1f} s")
    print(f"     merge (on a warm engine) {merge:8.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", default=",".join(s.name for s in catalogue.BUILT),
                        help="the release's services, comma-separated (default: all)")
    parser.add_argument("--probe", default="ai-server", help="the service of the per-platform comparison")
    args = parser.parse_args(argv)
    services = [catalogue.service(name).name for name in args.service.split(",")]  # refuses an unknown name
    engine.attach()
    asyncio.run(stand_ins(AMD64))
    asyncio.run(stand_ins(ARM64))
    per_platform(catalogue.service(args.probe).name)
    release(services)
    return 0


if __name__ == "__main__":
    sys.exit(main())
