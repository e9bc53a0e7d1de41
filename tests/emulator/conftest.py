"""Fixtures shared by the emulator tier: the monitoring stack (real Prometheus) and a real ai-server under load,
for the analysis gate."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from dojangkok_local import ROOT
from dojangkok_local.prometheus import Prometheus
from dojangkok_local.registry import free_port


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    with Prometheus() as running:
        yield running


@contextmanager
def ai_server_release(**faults: str) -> Iterator[str]:
    """services/ai-server as its image runs it (uvicorn main:app), with the release's fault switches; host:port."""
    port = free_port()
    env = {**os.environ, **faults}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT / "services" / "ai-server", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("ai-server did not start") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def users(address: str, per_second: float = 20) -> Iterator[None]:
    """Users' requests to a real route while the block runs (open loop: one every 1/per_second s)."""
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=f"http://{address}", timeout=5) as client:
            while not stop.wait(1 / per_second):
                try:
                    client.get("/openapi.json")
                except httpx.HTTPError:
                    pass

    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(10)


@pytest.fixture
def serving(prometheus: Prometheus) -> Callable:
    """Run an ai-server release under users' load, scraped by Prometheus as service ai-server."""

    @contextmanager
    def run(**faults: str) -> Iterator[str]:
        with ai_server_release(**faults) as address, users(address):
            prometheus.watch("ai-server", [address])
            prometheus.wait_scraped("ai-server")
            try:
                yield address
            finally:
                prometheus.watch("ai-server", [])

    return run
