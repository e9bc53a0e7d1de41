"""Stands in for Docker and the released engine image: the engine, CLI and SDK content scripts/engine builds and
starts (sdk_content), and the CLI as tests and the main job run it (cli).

Attach to the local Dagger engine and registry that scripts/engine starts.

The engine is real (built from Go modules, see scripts/engine); this module only starts it when it is
not running and puts the client environment in place, so `dagger.connection()` reaches it.
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess

from dojangkok_local import ROOT

ENGINE_SCRIPT = ROOT / "scripts" / "engine"


def start() -> dict[str, str]:
    """Start (or reuse) the engine and the registry; return and apply the client environment."""
    out = subprocess.run([str(ENGINE_SCRIPT), "start"], check=True, stdout=subprocess.PIPE, text=True)
    env = parse_exports(out.stdout)
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


def registry() -> str:
    return os.environ.get("DOJANGKOK_REGISTRY", "127.0.0.1:5000")
