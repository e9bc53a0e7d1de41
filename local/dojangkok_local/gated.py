"""The gated services served for real on this host, for the analysis gate: ai-server as its image runs it (uvicorn),
backend as its image's jar (packaged offline from what scripts/bootstrap fetched), each with the release's fault
switches, under users' load, scraped by Prometheus (dojangkok_local.prometheus) as that service."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from dojangkok import catalogue

from dojangkok_local import ROOT
from dojangkok_local.prometheus import Prometheus
from dojangkok_local.registry import free_port
from dojangkok_local.zero_downtime import PATHS


def package_backend(build: Path) -> Path:
    """services/backend packaged as its Dockerfile packages it (tests skipped: the services tier runs them), in a
    copy under `build`, so the services' own tests keep their target/; offline. Returns the jar."""
    shutil.copy(ROOT / "services" / "backend" / "pom.xml", build)
    shutil.copytree(ROOT / "services" / "backend" / "src", build / "src")
    subprocess.run(["mvn", "-B", "-q", "-o", "--no-transfer-progress", "-DskipTests", "package"], cwd=build,
                   check=True, stdout=subprocess.DEVNULL)
    return build / "target" / "app.jar"


@contextmanager
def running(service: str, command: list[str], cwd: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    """A release of `service` serving on 127.0.0.1:`port` (once its metrics answer); host:port."""
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    metrics = f"http://127.0.0.1:{port}{catalogue.service(service).metrics_path}"
    try:
        deadline = time.monotonic() + 120  # a JVM on a busy machine
        while True:
            try:
                if httpx.get(metrics, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{service} did not start")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def ai_server_release(**faults: str) -> contextmanager:
    """services/ai-server as its image runs it (uvicorn main:app), with the release's fault switches."""
    port = free_port()
    return running("ai-server", [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port",
                                 str(port)], ROOT / "services" / "ai-server", port, faults)


def backend_release(jar: Path, **faults: str) -> contextmanager:
    """services/backend as its image runs it (java -jar app.jar), with the release's fault switches."""
    port = free_port()
    return running("backend", ["java", "-jar", str(jar), f"--server.port={port}"], jar.parent, port, faults)


@contextmanager
def users(address: str, path: str, per_second: float = 20) -> Iterator[None]:
    """Users' requests to a real route while the block runs (open loop: one every 1/per_second s)."""
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=f"http://{address}", timeout=5) as client:
            while not stop.wait(1 / per_second):
                try:
                    client.get(path)
                except httpx.HTTPError:
                    pass

    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(10)


@contextmanager
def serving(prometheus: Prometheus, service: str = "ai-server", backend_jar: Path | None = None,
            **faults: str) -> Iterator[str]:
    """A release of a gated service under users' load, scraped by `prometheus` as that service (backend needs its
    jar); host:port."""
    release = ai_server_release(**faults) if service == "ai-server" else backend_release(backend_jar, **faults)
    with release as address, users(address, PATHS[service]):
        prometheus.watch(service, [address])
        prometheus.wait_scraped(service)
        try:
            yield address
        finally:
            prometheus.watch(service, [])
