"""Plain BuildKit (buildkitd + buildctl), the builder `docker buildx` drives: the peer the scale-out benchmark builds
the same Dockerfiles with.

Both binaries are built once from the Go module proxy's source of BuildKit as the main module (its go.mod has an
`exclude` block, which `go install PKG@VERSION` refuses). buildkitd runs as root with the runc worker (Debian's runc,
the engine's too) on the host network, in a directory of its own, with docker.io and ghcr.io mirrored to the engine's
registry as the engine has them: the stand-ins under the production names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dojangkok import catalogue

from dojangkok_local.bases import CACHE, exclusive

MODULE = "github.com/moby/buildkit"
VERSION = "v0.35.1"
READY_WITHIN = 120  # seconds


def binaries() -> dict[str, Path]:
    """buildkitd and buildctl at VERSION, built once into the cache."""
    target = CACHE / "tools" / f"buildkit-{VERSION}"
    wanted = {name: target / name for name in ("buildkitd", "buildctl")}
    if all(path.exists() for path in wanted.values()):
        return wanted
    with exclusive(target):
        if not all(path.exists() for path in wanted.values()):
            print(f"[buildkit] go build {MODULE}@{VERSION} buildkitd, buildctl (once)", file=sys.stderr)
            download = subprocess.run(["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"], check=True,
                                      capture_output=True, text=True)
            with tempfile.TemporaryDirectory(prefix="buildkit-src-") as scratch:
                source = Path(scratch) / "buildkit"
                # Built where no other module's go.mod is above it: a copy of the module cache's tree.
                shutil.copytree(json.loads(download.stdout)["Dir"], source, copy_function=shutil.copyfile)
                environ = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
                version = f"-X {MODULE}/version.Version={VERSION} -X {MODULE}/version.Package={MODULE}"
                for name, path in wanted.items():
                    subprocess.run(["go", "build", "-trimpath", f"-ldflags=-s -w {version}", "-o", str(path),
                                    f"./cmd/{name}"], cwd=source, check=True, env=environ)
    return wanted


def config(registry: str) -> str:
    """buildkitd.toml: the engine's registry mirrors (a loopback mirror is reached over plain HTTP)."""
    mirrors = "".join(f'[registry."{host}"]\n  mirrors = ["{registry}"]\n' for host in ("docker.io", "ghcr.io"))
    return mirrors + '[worker.oci]\n  networkMode = "host"\n'


@contextmanager
def running(directory: Path, registry: str) -> Iterator[str]:
    """buildkitd for the block, its state and log in `directory`; yields the address buildctl dials."""
    tools = binaries()
    (directory / "buildkitd.toml").write_text(config(registry))
    address = f"unix://{directory / 'buildkitd.sock'}"
    with (directory / "buildkitd.log").open("w") as log:
        daemon = subprocess.Popen(
            [str(tools["buildkitd"]), "--config", str(directory / "buildkitd.toml"), "--root", str(directory / "root"),
             "--addr", address, "--oci-worker=true", "--containerd-worker=false"],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + READY_WITHIN
            while buildctl(address, "debug", "workers", check=False).returncode != 0:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"buildkitd did not start: {directory / 'buildkitd.log'}")
                time.sleep(0.5)
            yield address
        finally:
            daemon.terminate()
            daemon.wait(60)


def buildctl(address: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(binaries()["buildctl"]), "--addr", address, *args], check=check,
                          capture_output=True, text=True)


def build(address: str, root: Path, svc: catalogue.Service, platform: str) -> None:
    """The service's Dockerfile with its context, for one platform, as `dagger call build` builds it: every stage
    the image needs, exported nowhere. The built-in Dockerfile frontend is kept (`cmdline`): the engine's build does
    not pull the `# syntax=` frontend image either."""
    dockerfile = root / svc.dockerfile
    buildctl(address, "build", "--frontend", "dockerfile.v0", "--local", f"context={root / svc.context}",
             "--local", f"dockerfile={dockerfile.parent}", "--opt", f"filename={dockerfile.name}",
             "--opt", "cmdline=dockerfile.v0", "--opt", f"platform={platform}")


def prune(address: str) -> None:
    """An empty build cache, frontend and internal records included."""
    buildctl(address, "prune", "--all")
