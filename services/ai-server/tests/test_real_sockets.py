"""The same failures over real sockets on 127.0.0.1: a vLLM that is too slow, and ports nobody listens on.

These prove the timeouts are really applied by the HTTP client, not just mapped when a fake raises them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiserver.settings import Settings
from conftest import running

RELEASE = threading.Event()


class FakeUpstreams(BaseHTTPRequestHandler):
    """ChromaDB and vLLM in one tiny server; completions hang until released (at most 5 s)."""

    def _json(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.endswith("/collections/dojangkok"):
            self._json({"id": "c1", "name": "dojangkok"})
        else:
            self._json({})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/query"):
            self._json({"ids": [["a"]], "documents": [["보증금"]], "distances": [[0.1]], "metadatas": [[None]]})
        elif self.path == "/v1/completions":
            RELEASE.wait(timeout=5)
            self._json({"choices": [{"text": "늦은 답변", "finish_reason": "stop"}]})
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    RELEASE.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstreams)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        RELEASE.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_slow_vllm_times_out_with_504_after_the_configured_time(server: str, settings: Settings) -> None:
    fast = replace(settings, vllm_url=server, chroma_url=server, vllm_timeout=0.3)
    with running(fast) as client:
        started = time.monotonic()
        response = client.post("/analyze", json={"type": "contract", "text": "보증금 반환 조항"})
        elapsed = time.monotonic() - started

    assert response.status_code == 504, response.text
    assert response.json()["upstream"] == "vLLM"
    assert elapsed < 3


def test_the_same_server_answers_when_given_time(server: str, settings: Settings) -> None:
    RELEASE.set()
    with running(replace(settings, vllm_url=server, chroma_url=server)) as client:
        response = client.post("/analyze", json={"type": "contract", "text": "보증금 반환 조항"})

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "늦은 답변"


def test_nothing_listening_is_502_for_analyze_and_down_for_health(settings: Settings) -> None:
    nowhere = closed_port()
    with running(replace(settings, vllm_url=nowhere, chroma_url=nowhere)) as client:
        analyze = client.post("/analyze", json={"type": "risk", "text": "특약 조항"})
        health = client.get("/health")

    assert analyze.status_code == 502
    assert "could not reach ChromaDB" in analyze.json()["detail"]
    assert health.status_code == 200
    assert health.json()["upstreams"] == {"vllm": "down", "chromadb": "down"}
