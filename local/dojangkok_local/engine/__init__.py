"""Stands in for Docker and the released engine image: the engine, CLI and SDK content scripts/engine builds and
starts (sdk_content), and the CLI as tests and the main job run it (cli).

The engine is real (built from Go modules, see scripts/engine) and started by the scripts (scripts/test,
scripts/pipeline, the benchmarks, or `scripts/engine start` by hand); Python only attaches to it, so
`dagger.connection()` and the `dagger` CLI reach it.
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
from pathlib import Path

from dojangkok_local import ROOT

ENGINE_SCRIPT = ROOT / "scripts" / "engine"


class NotRunning(RuntimeError):
    """The engine scripts/engine starts is not running."""


def attach() -> dict[str, str]:
    """Apply the client environment of the running engine to this process, and return it."""
    env = client_env()
    socket = Path(env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"].removeprefix("unix://"))
    if not socket.is_socket():
        raise NotRunning(f"no engine answers on {socket}: start it with `scripts/engine start` "
                         "(scripts/test and scripts/pipeline start it themselves)")
    os.environ.update(env)
    return env


@functools.cache
def client_env() -> dict[str, str]:
    out = subprocess.run([str(ENGINE_SCRIPT), "env"], check=True, capture_output=True, text=True)
    return parse_exports(out.stdout)


def parse_exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env
