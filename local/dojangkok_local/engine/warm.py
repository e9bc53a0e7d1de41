"""The engine's cache, warmed once before the engine tier: the stand-in bases under their production names, then
every image the tier builds (each service for this machine's platform, and the smallest one for arm64, or every
catalogue platform with DOJANGKOK_FULL_MULTIARCH=1), through the released CLI as the tests build them.

    python -m dojangkok_local.engine.warm

scripts/test runs it as a phase of its own, so its time shows apart from the tests', and says so (DONE); run by
hand, `pytest tests/engine` warms through its fixture (nothing is rebuilt when the cache holds it). The tests running
beside each other then find every image built instead of each building it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from dojangkok_local import ROOT, engine
from dojangkok_local.bases import HOST
from dojangkok_local.engine.cli import call

# Set by who ran warm() before the tests start (scripts/test, as a phase of its own): the engine tier's fixture, run
# once per pytest-xdist worker, then does not load the module again for nothing.
DONE = "DOJANGKOK_IMAGES_WARM"
ARM64_PROOF = "ai-server"  # the smallest image: CI proves arm64 on it (the bases' --ci plan)


def full_multiarch() -> bool:
    return os.environ.get("DOJANGKOK_FULL_MULTIARCH") == "1"


def builds() -> list[list[str]]:
    """The `dagger call build` argument lists the engine tier's images come from."""
    if full_multiarch():
        return [[]]  # every service, every catalogue platform
    return [["--platform", HOST], ["--service", ARM64_PROOF, "--platform", "linux/arm64"]]


def warm() -> None:
    if os.environ.get(DONE) == "1":
        return
    engine.attach()
    subprocess.run([sys.executable, "-m", "dojangkok_local.bases", *([] if full_multiarch() else ["--ci"])],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with ThreadPoolExecutor() as pool:  # arm64 under qemu beside the host's builds
        list(pool.map(lambda args: call("build", *args, "summary"), builds()))


if __name__ == "__main__":
    warm()
