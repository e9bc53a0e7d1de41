"""GET /health: liveness stays 200 whatever the upstreams do; the body says which are up."""

from __future__ import annotations

import httpx
import respx
from conftest import timeout
from fastapi.testclient import TestClient


def test_both_upstreams_up(client: TestClient, upstreams: respx.MockRouter) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "upstreams": {"vllm": "up", "chromadb": "up"}}
    assert upstreams["vllm_health"].called
    assert upstreams["heartbeat"].called


def test_vllm_failing_is_reported_down_without_failing_liveness(
    client: TestClient, upstreams: respx.MockRouter
) -> None:
    upstreams["vllm_health"].respond(503)

    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "upstreams": {"vllm": "down", "chromadb": "up"}}


def test_chromadb_unreachable_is_reported_down(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["heartbeat"].side_effect = httpx.ConnectError("connection refused")

    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["upstreams"] == {"vllm": "up", "chromadb": "down"}


def test_both_slow_upstreams_are_down(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["vllm_health"].side_effect = timeout
    upstreams["heartbeat"].side_effect = timeout

    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["upstreams"] == {"vllm": "down", "chromadb": "down"}


def test_health_probes_use_the_short_health_timeout(client: TestClient, upstreams: respx.MockRouter) -> None:
    client.get("/health")

    assert upstreams["vllm_health"].calls.last.request.extensions["timeout"]["read"] == 0.5
