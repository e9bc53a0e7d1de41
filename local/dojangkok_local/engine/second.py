"""A second engine on this machine, reached as a remote one is: over `tcp://`, and over `tls://` with mutual TLS.

`scripts/engine second` runs it beside the first, with its own state (kept under the engines' state directory, so a
later run finds its cache), socket, network name and CIDR, and the first's SDK content, serving plain gRPC on a
loopback port. TLS is terminated in front of it by socat, checking client certificates against a CA made for this
run: the v0.21.8 engine's own TLS listener hands the connection to an HTTP server that speaks HTTP/2 only when the
client asks for it by ALPN, and the v0.21.8 CLI's tls driver does not, so the two never agree (the CLI retries
"error reading server preface ... looked like an HTTP/1.1 header" until it gives up). The CLI presents its
certificate through the runner host's `ca_path`, `cert_path` and `key_path`.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from dojangkok_local.engine import ENGINE_SCRIPT
from dojangkok_local.engine.cli import dagger
from dojangkok_local.registry import free_port
from dojangkok_local.throwaway_ca import CertificateAuthority

HOST = "127.0.0.1"
READY_WITHIN = 600  # seconds: a first start on busy cores loads the SDK runtime


@dataclass(frozen=True)
class SecondEngine:
    port: int  # plain gRPC
    tls_port: int  # mutual TLS in front of it
    ca: Path  # what the engine's certificate is checked against, and what signed the client's
    certificate: Path  # the client's
    key: Path

    def runner_host(self, *, ca: Path | None = None, client: bool = True) -> str:
        """The CLI's `_EXPERIMENTAL_DAGGER_RUNNER_HOST` over mutual TLS; another `ca`, or no client certificate,
        to see it refused."""
        query = {"ca_path": str(ca or self.ca)}
        if client:
            query |= {"cert_path": str(self.certificate), "key_path": str(self.key)}
        return f"tls://{HOST}:{self.tls_port}?{urlencode(query)}"

    def env(self, *, plain: bool = False, **kwargs) -> dict[str, str]:
        """The environment `dagger` needs to run on it instead of the first engine (`plain`: over tcp://)."""
        host = f"tcp://{HOST}:{self.port}" if plain else self.runner_host(**kwargs)
        return {"_EXPERIMENTAL_DAGGER_RUNNER_HOST": host}


@contextmanager
def running(directory: Path, state: Path | None = None) -> Iterator[SecondEngine]:
    """A second engine and its TLS terminator for the block, certificates and logs in `directory`; stopped after.
    Its state is the kept one, or `state` (an empty directory: a cold engine)."""
    authority = CertificateAuthority("dojangkok second engine", directory)
    server, server_key = authority.issue("engine-server", [HOST, "localhost"])
    engine = SecondEngine(free_port(), free_port(), authority.certificate,
                          *authority.issue("engine-client", [], client=True))
    with contextlib.ExitStack() as stack:
        log = stack.enter_context((directory / "engine.log").open("w"))
        process = stack.enter_context(_stopped(subprocess.Popen(
            [str(ENGINE_SCRIPT), "second", str(engine.port), *([str(state)] if state else [])], stdout=log,
            stderr=subprocess.STDOUT)))
        stack.enter_context(_stopped(subprocess.Popen(
            ["socat", f"OPENSSL-LISTEN:{engine.tls_port},bind={HOST},reuseaddr,fork,cert={server},"
             f"key={server_key},cafile={engine.ca},verify=1", f"TCP:{HOST}:{engine.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        _wait(engine, process, directory / "engine.log")
        yield engine


@contextmanager
def _stopped(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    try:
        yield process
    finally:
        process.terminate()  # the engine saves its cache on SIGTERM; killed only if it takes too long
        try:
            process.wait(600)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(engine: SecondEngine, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while process.poll() is None and time.monotonic() < deadline:
        try:  # the CLI keeps trying to connect: each attempt is cut short to look at the engine again
            if dagger("core", "version", env=engine.env(), check=False, timeout=30).returncode == 0:
                return
        except subprocess.TimeoutExpired:
            continue
        time.sleep(1)
    tail = "\n".join(log.read_text().splitlines()[-30:])
    state = f"exited {process.returncode}" if process.poll() is not None else "still starting"
    raise RuntimeError(f"the second engine did not answer on {engine.runner_host()} ({state}):\n{tail}")
