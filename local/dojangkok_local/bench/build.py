"""Build benchmark through the released CLI: prints numbers, asserts nothing.

    python -m dojangkok_local.bench.build [--platform linux/amd64] [--keep-cache]

1. cold build of every image (`dagger call build`, engine cache pruned first, unless --keep-cache),
2. the same build again with nothing changed (ratio to cold),
3. one source file of ai-server changed (`--source` a copy): each service rebuilt in turn, so the time shows
   which ones did work,
4. image sizes of the multi-stage images (exported by `build export`) against naive single-stage builds
   (local/bench-naive/, built on the same engine through a host session).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagger
from dagger import dag
from dojangkok import catalogue

from dojangkok_local import ROOT, bases, engine
from dojangkok_local.engine.cli import call

NAIVE = ROOT / "local" / "bench-naive"
CHANGED_SERVICE = "ai-server"
CHANGED_FILE = "main.py"


def timed(*args: str) -> float:
    start = time.monotonic()
    call(*args)
    return time.monotonic() - start


def changed_copy() -> Path:
    """The pipeline's inputs with one source file of one service edited (a comment line appended)."""
    copy = Path(tempfile.mkdtemp(prefix="dojangkok-bench-"))
    ignore = shutil.ignore_patterns("node_modules", ".next", "target", "__pycache__", ".pytest_cache")
    for part in ("services", "dockerfiles", "deploy"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    shutil.copy(ROOT / "dagger.json", copy)
    target = copy / "services" / CHANGED_SERVICE / CHANGED_FILE
    target.write_text(target.read_text() + f"\n# benchmark edit {time.time()}\n")
    return copy


async def naive_sizes(platform: str) -> dict[str, int]:
    sizes = {}
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        for name in ("frontend", "backend"):
            svc = catalogue.service(name)
            context = dag.host().directory(str(ROOT / svc.context), exclude=["node_modules", ".next", "target"])
            naive = context.with_file("Dockerfile", dag.host().file(str(NAIVE / f"{name}.Dockerfile"))).docker_build(
                platform=dagger.Platform(platform)
            )
            sizes[name] = await naive.as_tarball().size()
    return sizes


async def prune() -> None:
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        await dag.engine().local_cache().prune()


def run(platform: str, keep_cache: bool) -> None:
    flags = ["--platform", platform]
    asyncio.run(stand_ins(platform))
    if not keep_cache:
        asyncio.run(prune())
    cold = timed("build", *flags)
    warm = timed("build", *flags)
    print(f"cold build (all services, {platform})   {cold:8.1f} s")
    print(f"no-change rebuild                       {warm:8.1f} s   ratio {warm / cold:.3f}")

    copy = changed_copy()
    print(f"one-file change (services/{CHANGED_SERVICE}/{CHANGED_FILE}), each service rebuilt in turn:")
    total = 0.0
    for svc in catalogue.BUILT:
        seconds = timed("--source", str(copy), "build", "--service", svc.name, *flags)
        total += seconds
        print(f"  {svc.name:10} {seconds:8.1f} s")
    print(f"one-file-change rebuild                 {total:8.1f} s   ratio {total / cold:.3f}")
    shutil.rmtree(copy)

    print("image sizes (OCI tarball), multi-stage vs naive single-stage:")
    with tempfile.TemporaryDirectory(prefix="dojangkok-bench-") as out:
        call("build", *flags, "export", "export", "--path", out)
        ours = {svc.name: (Path(out) / f"{svc.name}.tar").stat().st_size for svc in catalogue.BUILT}
    naive = asyncio.run(naive_sizes(platform))
    for name, theirs in naive.items():
        ratio = ours[name] / theirs
        print(f"  {name:10} {ours[name] / 2**20:8.1f} MiB vs {theirs / 2**20:8.1f} MiB   ratio {ratio:.2f}")
    for name in ("ai-server", "vllm"):
        print(f"  {name:10} {ours[name] / 2**20:8.1f} MiB (single stage by design)")


async def stand_ins(platform: str) -> None:
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        await bases.publish(bases.wanted(ci=False, platforms=[platform]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", default="linux/amd64", help="default: linux/amd64 (this machine)")
    parser.add_argument("--keep-cache", action="store_true", help="do not prune the engine cache first")
    args = parser.parse_args(argv)
    engine.attach()
    run(args.platform, args.keep_cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
