"""Fixtures: the app with test settings, and its upstreams faked at the HTTP level with respx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import respx
from aiserver.settings import Settings
from fastapi.testclient import TestClient
from main import create_app

VLLM = "http://vllm.test:8001"
CHROMA = "http://chroma.test:8000"
COLLECTIONS = f"{CHROMA}/api/v2/tenants/default_tenant/databases/default_database/collections"
COLLECTION_ID = "5f2a6c1e-0000-4000-8000-00000000c0de"

DOCUMENTS = [
    "주택임대차보호법 제3조: 임차인은 주택의 인도와 주민등록을 마친 때 대항력을 가진다.",
    "보증금 반환: 임대인은 계약 종료 시 보증금을 반환하여야 한다.",
]


@pytest.fixture
def settings() -> Settings:
    return Settings(vllm_url=VLLM, chroma_url=CHROMA, vllm_timeout=1.0, chroma_timeout=1.0, health_timeout=0.5)


@contextmanager
def running(settings: Settings) -> Iterator[TestClient]:
    """The app with these settings, lifespan started (its HTTP client open) until the block ends."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with running(settings) as client:
        yield client


@pytest.fixture
def upstreams() -> Iterator[respx.MockRouter]:
    """Healthy fakes of ChromaDB (collection lookup, query, heartbeat) and vLLM (completions, health).

    Tests override a route's side effect or return value to make an upstream fail. Requests to any other
    host fail the test (respx's assert_all_mocked)."""
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{COLLECTIONS}/dojangkok", name="collection").respond(
            json={"id": COLLECTION_ID, "name": "dojangkok", "tenant": "default_tenant", "database": "default_database"}
        )
        router.post(f"{COLLECTIONS}/{COLLECTION_ID}/query", name="query").respond(
            json={
                "ids": [["law-3", "deposit-1"]],
                "documents": [DOCUMENTS],
                "metadatas": [[{"source": "주택임대차보호법"}, None]],
                "distances": [[0.12, 0.34]],
                "embeddings": None,
                "uris": None,
                "include": ["documents", "metadatas", "distances"],
            }
        )
        router.get(f"{CHROMA}/api/v2/heartbeat", name="heartbeat").respond(
            json={"nanosecond heartbeat": 1737000000000000000}
        )
        router.post(f"{VLLM}/v1/completions", name="completions").respond(
            json={
                "id": "cmpl-1",
                "object": "text_completion",
                "model": "contract-lora",
                "choices": [{"index": 0, "text": " 1. 등기부등본 확인\n", "finish_reason": "stop"}],
            }
        )
        router.get(f"{VLLM}/health", name="vllm_health").respond(200)
        yield router


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)
