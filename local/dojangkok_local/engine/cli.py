"""The released `dagger` CLI, run the way users and GitHub Actions run it: a subprocess in the repository root.

Tests, the main job and the benchmarks drive the module only through this: `dagger call …` loads the module
through the engine's builtin Python SDK runtime, which runs each function in a container that sees nothing but
its arguments. Emulators are handed over as host services (`--endpoint tcp://127.0.0.1:PORT`), secrets as
`env:NAME` of the subprocess' environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dojangkok_local import signing
from dojangkok_local.engine import ROOT, client_env

# Secrets the emulators accept; handed to the CLI by name (env:…), as CI hands over its OIDC session.
EMULATOR_SECRETS = {"DOJANGKOK_EMULATOR_KEY_ID": "emulator", "DOJANGKOK_EMULATOR_SECRET": "emulator",
                    signing.PASSWORD_VARIABLE: signing.PASSWORD}


class DaggerFailed(RuntimeError):
    """A `dagger` command exited non-zero; the message carries the tail of its output."""

    def __init__(self, argv: Sequence[str], result: subprocess.CompletedProcess):
        self.result = result
        tail = "\n".join((result.stderr or "").splitlines()[-40:])
        super().__init__(f"{' '.join(argv)} exited {result.returncode}\n{tail}")


@dataclass(frozen=True)
class Emulated:
    """The module configuration that points every cloud call at the local stand-ins."""

    registry: str
    aws_endpoint: str = ""  # http://127.0.0.1:PORT of the AWS emulator
    gcp_endpoint: str = ""  # http://127.0.0.1:PORT of the GCP fake
    signing: signing.KeyPair | None = None  # sign what is pushed, verify what is rolled out

    def arguments(self) -> list[str]:
        """`with-…` calls to put before the function: registry, AWS and GCP, each declared once."""
        args = ["with-registry", "--address", self.registry, "--endpoint", host_service(f"http://{self.registry}")]
        if self.aws_endpoint:
            args += ["with-aws", "--access-key-id", "env:DOJANGKOK_EMULATOR_KEY_ID",
                     "--secret-access-key", "env:DOJANGKOK_EMULATOR_SECRET",
                     "--endpoint", host_service(self.aws_endpoint)]
        if self.gcp_endpoint:
            args += ["with-gcp", "--endpoint", host_service(self.gcp_endpoint)]
        if self.signing:
            args += self.signing.arguments()
        return args


def overrides(values: Mapping[str, str]) -> list[str]:
    """Settings overrides as the CLI takes them: `--override NAME=VALUE` each."""
    return [arg for name, value in values.items() for arg in ("--override", f"{name}={value}")]


def host_service(url: str) -> str:
    """http://127.0.0.1:PORT as the CLI's host-service argument, tcp://127.0.0.1:PORT."""
    return "tcp://" + url.split("://", 1)[-1].rstrip("/")


# Engine v0.21.8, many CLI sessions at once: loading a function's contextual directory (`source`, the repository
# root) can find the engine's snapshot of it gone, before any function runs. Nothing has happened yet, so the same
# command is run again; any other failure is the command's own.
SNAPSHOT_RACE = re.compile(r'load contextual directory "[^"]*": failed to select host directory: [a-z0-9]+: not found')
SNAPSHOT_RACE_ATTEMPTS = 3


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **client_env(), **EMULATOR_SECRETS, **(extra or {})}


def dagger(
    *args: str,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    stream: bool = False,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run `dagger --progress plain ARGS` in the repository root; stdout is the function's result.

    ``stream`` passes the CLI's progress (stderr) through, for long runs a person watches.
    """
    argv = ["dagger", "--progress", "plain", *args]
    for attempt in range(1, SNAPSHOT_RACE_ATTEMPTS + 1):
        result = subprocess.run(
            argv,
            cwd=ROOT,
            env=environment(env),
            text=True,
            stdout=subprocess.PIPE,
            stderr=sys.stderr if stream else subprocess.PIPE,
            timeout=timeout,
        )
        if result.returncode == 0 or stream or not SNAPSHOT_RACE.search(result.stderr):
            break
        print(f"dagger {args[0] if args else ''}: the engine lost the module's source snapshot before running "
              f"anything (attempt {attempt} of {SNAPSHOT_RACE_ATTEMPTS}); running it again", file=sys.stderr)
    if check and result.returncode != 0:
        raise DaggerFailed(argv, result)
    return result


def call(*args: str, **kwargs) -> str:
    """`dagger call ARGS`: the result printed on stdout."""
    return dagger("call", *args, **kwargs).stdout
