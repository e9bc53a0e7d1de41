"""Scale-out benchmark through the released CLI: prints numbers, asserts nothing.

    python -m dojangkok_local.bench.scale_out [--service NAME,...] [--probe SERVICE] [--keep-cache]

1. One service built for each platform from a cold cache: amd64 natively against arm64 under QEMU. The ratio is
   what a native arm64 runner removes.
2. A release of the chosen services, every platform of each, pushed by digest to a registry of its own, from a cold
   cache. First on one engine. Then split over two engines side by side: this one builds the arm64 share, a second
   one (`scripts/engine second`, reached over mutual TLS as a remote engine is) the amd64 share. Then `merge` makes
   the release. Printed: wall time and each share's time, the critical path when each share has a machine of its
   own. Here both engines share this machine's cores, so the split's wall time is an upper bound.
3. The peer users would pick instead: the same Dockerfiles built by plain BuildKit (buildkitd + buildctl, what
   `docker buildx` drives; dojangkok_local.buildkit), side by side with `dagger call build`, every service for this
   machine's platform at once: cold, nothing changed, one source file changed. The CLI's times include loading the
   module.

Each cold measurement prunes the engines' caches first (--keep-cache to skip): run it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dojangkok import catalogue
from dojangkok.catalogue import AMD64, ARM64

from dojangkok_local import ROOT, buildkit, engine
from dojangkok_local.bench.build import CHANGED_FILE, CHANGED_SERVICE, changed_copy, prune, stand_ins
from dojangkok_local.engine import second
from dojangkok_local.engine.cli import Emulated, call
from dojangkok_local.registry import LocalRegistry

COMMIT = "5ca1e0" + "0" * 34  # the label every share carries; merge checks it


def timed(*args: str, env: Mapping[str, str] | None = None) -> tuple[float, str]:
    start = time.monotonic()
    out = call(*args, env=env)
    return time.monotonic() - start, out


def cold(env: Mapping[str, str] | None, keep_cache: bool) -> None:
    """An empty build cache on the engine `env` points the CLI at (the first one when None)."""
    if keep_cache:
        return
    saved = os.environ.copy()
    os.environ.update(env or {})
    try:
        asyncio.run(prune())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def per_platform(service: str, keep_cache: bool) -> None:
    print(f"1. {service} built for one platform, cold cache (this machine is amd64):")
    seconds = {}
    for platform in (AMD64, ARM64):
        cold(None, keep_cache)
        seconds[platform], _ = timed("build", "--service", service, "--platform", platform)
    print(f"   {AMD64:12} native     {seconds[AMD64]:8.1f} s")
    print(f"   {ARM64:12} QEMU       {seconds[ARM64]:8.1f} s   ratio {seconds[ARM64] / seconds[AMD64]:.1f}x")


def share(registry: str, services: list[str], platforms: list[str], env: Mapping[str, str] | None = None
          ) -> tuple[float, list[str]]:
    """`publish --by-digest` of these platforms: its time and the `--image` values it printed."""
    seconds, out = timed(*Emulated(registry).arguments(), "publish", "--by-digest", "--env", "dev", "--branch",
                         "main", "--commit", COMMIT, "--service", ",".join(services), "--platform",
                         ",".join(platforms), "--format", "json", env=env)
    return seconds, [row["image"] for row in json.loads(out)]


def release(services: list[str], keep_cache: bool) -> None:
    shipped = sorted({p for s in services for p in catalogue.service(s).platforms})
    print(f"2. a release of {', '.join(services)} ({', '.join(shipped)}), pushed by digest, cold caches:")
    with LocalRegistry() as registry:
        cold(None, keep_cache)
        one, _ = share(registry.address, services, shipped)
    print(f"   one engine, every platform              {one:8.1f} s")

    with tempfile.TemporaryDirectory(prefix="dojangkok-bench-") as scratch, \
            second.running(Path(scratch)) as other, LocalRegistry() as registry:
        cold(None, keep_cache)
        cold(other.env(), keep_cache)
        start = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            arm = pool.submit(share, registry.address, services, [ARM64])
            amd = pool.submit(share, registry.address, services, [AMD64], other.env())
            (arm_seconds, arm_images), (amd_seconds, amd_images) = arm.result(), amd.result()
        wall = time.monotonic() - start
        merge, _ = timed(*Emulated(registry.address).arguments(), "merge", "--env", "dev", "--branch", "main",
                         "--commit", COMMIT, "--image", ",".join(arm_images + amd_images))
    split = wall + merge
    print(f"   two engines side by side, then merge     {split:8.1f} s   ratio {split / one:.2f} "
          f"(shares {wall:.1f} s, merge {merge:.1f} s)")
    print(f"     {ARM64} share (this engine)        {arm_seconds:8.1f} s")
    print(f"     {AMD64} share (second engine, TLS) {amd_seconds:8.1f} s")
    path = max(arm_seconds, amd_seconds) + merge
    print(f"   critical path, a machine per share       {path:8.1f} s   ratio {path / one:.2f} "
          "(measured with the cores shared: an upper bound)")


def against_buildkit(keep_cache: bool) -> None:
    print(f"3. every service for {AMD64}, dagger call build against plain BuildKit {buildkit.VERSION}:")
    flags = ["build", "--platform", AMD64]

    def with_buildkit(address: str, root: Path) -> float:
        start = time.monotonic()
        with ThreadPoolExecutor(len(catalogue.BUILT)) as pool:  # at once, as the module builds them
            for done in [pool.submit(buildkit.build, address, root, svc, AMD64) for svc in catalogue.BUILT]:
                done.result()
        return time.monotonic() - start

    copy = changed_copy()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dojangkok-buildkit-") as scratch, \
            buildkit.running(Path(scratch), engine.client_env()["DOJANGKOK_REGISTRY"]) as address:
        cold(None, keep_cache)
        if not keep_cache:
            buildkit.prune(address)
        rows.append(("cold", timed(*flags)[0], with_buildkit(address, ROOT)))
        rows.append(("nothing changed", timed(*flags)[0], with_buildkit(address, ROOT)))
        rows.append((f"{CHANGED_SERVICE}/{CHANGED_FILE} changed", timed("--source", str(copy), *flags)[0],
                     with_buildkit(address, copy)))
    shutil.rmtree(copy)
    print(f"   {'':34} {'dagger':>9} {'buildkit':>9}  ratio")
    for name, ours, theirs in rows:
        print(f"   {name:34} {ours:8.1f}s {theirs:8.1f}s  {ours / theirs:5.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", default=",".join(s.name for s in catalogue.BUILT),
                        help="the release's services, comma-separated (default: all)")
    parser.add_argument("--probe", default="ai-server", help="the service of the per-platform comparison")
    parser.add_argument("--keep-cache", action="store_true", help="do not prune the engines' caches")
    args = parser.parse_args(argv)
    services = [catalogue.service(name).name for name in args.service.split(",")]  # refuses an unknown name
    engine.attach()
    asyncio.run(stand_ins(AMD64))
    asyncio.run(stand_ins(ARM64))
    per_platform(catalogue.service(args.probe).name, args.keep_cache)
    release(services, args.keep_cache)
    against_buildkit(args.keep_cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
