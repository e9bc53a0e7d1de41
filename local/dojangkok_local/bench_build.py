"""Build benchmark on the local engine: prints numbers, asserts nothing.

    python -m dojangkok_local.bench_build [--platform linux/amd64] [--keep-cache]

1. cold build of every image (engine cache pruned first, unless --keep-cache),
2. the same build again with nothing changed (ratio to cold),
3. one source file of ai-server changed: each service rebuilt in turn, so the time shows which ones did work,
4. image sizes of the multi-stage images against naive single-stage builds (local/bench-naive/).
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

from . import bases, call, engine

NAIVE = engine.ROOT / "local" / "bench-naive"
CHANGED_SERVICE = "ai-server"
CHANGED_FILE = "main.py"


async def timed(coro) -> float:
    start = time.monotonic()
    await coro
    return time.monotonic() - start


def changed_copy() -> Path:
    """The pipeline's inputs with one source file of one service edited (a comment line appended)."""
    copy = Path(tempfile.mkdtemp(prefix="dojangkok-bench-"))
    ignore = shutil.ignore_patterns("node_modules", ".next", "target", "__pycache__", ".pytest_cache")
    for part in ("services", "dockerfiles", "deploy", "ci"):
        shutil.copytree(engine.ROOT / part, copy / part, ignore=ignore)
    shutil.copy(engine.ROOT / "dagger.json", copy)
    target = copy / "services" / CHANGED_SERVICE / CHANGED_FILE
    target.write_text(target.read_text() + f"\n# benchmark edit {time.time()}\n")
    return copy


async def size(container: dagger.Container) -> int:
    return await container.as_tarball().size()


async def run(platforms: list[str], keep_cache: bool) -> None:
    from dojangkok import catalogue
    from dojangkok.main import Dojangkok

    await bases.publish(sorted({"linux/amd64", *platforms}), bases.CI)
    base = [f"{arg}={ref}" for arg, ref in bases.build_args().items()]
    pipeline = Dojangkok(source=call.source_directory())

    if not keep_cache:
        await dag.engine().local_cache().prune()
        await bases.publish(sorted({"linux/amd64", *platforms}), bases.CI)  # bases come back from the registry
    cold = await timed((await pipeline.build(platform=platforms, base=base)).sync())
    warm = await timed((await pipeline.build(platform=platforms, base=base)).sync())
    print(f"cold build (all services, {','.join(platforms)})  {cold:8.1f} s")
    print(f"no-change rebuild                      {warm:8.1f} s   ratio {warm / cold:.3f}")

    edited = Dojangkok(source=dag.host().directory(str(changed_copy()), exclude=["ci/sdk"]))
    print(f"one-file change (services/{CHANGED_SERVICE}/{CHANGED_FILE}), each service rebuilt in turn:")
    total = 0.0
    for svc in catalogue.BUILT:
        seconds = await timed((await edited.build(service=[svc.name], platform=platforms, base=base)).sync())
        total += seconds
        print(f"  {svc.name:10} {seconds:8.1f} s")
    print(f"one-file-change rebuild                {total:8.1f} s   ratio {total / cold:.3f}")

    print("image sizes (uncompressed tarball), multi-stage vs naive single-stage:")
    build = await pipeline.build(platform=platforms, base=base)
    for name in ("frontend", "backend"):
        svc = catalogue.service(name)
        ours = await size(build.container(name))
        naive_ctx = (
            call.source_directory()
            .directory(svc.context)
            .with_file("Dockerfile", dag.host().file(str(NAIVE / f"{name}.Dockerfile")))
        )
        naive = naive_ctx.docker_build(
            platform=dagger.Platform(platforms[0]),
            build_args=[dagger.BuildArg(name=k, value=v) for k, v in bases.build_args().items()],
        )
        theirs = await size(naive)
        print(f"  {name:10} {ours / 2**20:8.1f} MiB vs {theirs / 2**20:8.1f} MiB   ratio {ours / theirs:.2f}")
    for name in ("ai-server", "vllm"):
        print(f"  {name:10} {await size(build.container(name)) / 2**20:8.1f} MiB (single stage by design)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", help="default: linux/amd64 (this machine)")
    parser.add_argument("--keep-cache", action="store_true", help="do not prune the engine cache first")
    args = parser.parse_args(argv)
    engine.start()

    async def go() -> None:
        async with dagger.connection(dagger.Config(log_output=sys.stderr)):
            await run(args.platform or ["linux/amd64"], args.keep_cache)

    asyncio.run(go())
    return 0


if __name__ == "__main__":
    sys.exit(main())
