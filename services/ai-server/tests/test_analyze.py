"""POST /analyze: adapter choice, retrieval feeding the prompt, and every way an upstream can fail."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from aiserver.embedding import embed
from conftest import DOCUMENTS, timeout
from fastapi.testclient import TestClient

CONTRACT_TEXT = "특약: 임차인은 퇴거 시 모든 수리비를 부담한다."


def sent_json(route: respx.Route) -> dict:
    return json.loads(route.calls.last.request.content)


@pytest.mark.parametrize(
    ("kind", "adapter"),
    [("checklist", "checklist-lora"), ("contract", "contract-lora"), ("risk", "risk-lora")],
)
def test_the_request_type_selects_its_lora_adapter(
    client: TestClient, upstreams: respx.MockRouter, kind: str, adapter: str
) -> None:
    response = client.post("/analyze", json={"type": kind, "text": CONTRACT_TEXT})

    assert response.status_code == 200, response.text
    assert sent_json(upstreams["completions"])["model"] == adapter
    body = response.json()
    assert body["type"] == kind
    assert body["adapter"] == adapter
    assert body["result"] == "1. 등기부등본 확인"
    assert body["finish_reason"] == "stop"


def test_retrieved_passages_and_the_text_reach_the_prompt(client: TestClient, upstreams: respx.MockRouter) -> None:
    response = client.post("/analyze", json={"type": "risk", "text": CONTRACT_TEXT})

    assert response.status_code == 200, response.text
    query = sent_json(upstreams["query"])
    assert query["query_embeddings"] == [embed(CONTRACT_TEXT, 384)]
    assert query["n_results"] == 4
    assert "documents" in query["include"]

    completion = sent_json(upstreams["completions"])
    prompt = completion["prompt"]
    assert f"[1] {DOCUMENTS[0]}" in prompt
    assert f"[2] {DOCUMENTS[1]}" in prompt
    assert CONTRACT_TEXT in prompt
    assert prompt.index(DOCUMENTS[0]) < prompt.index(CONTRACT_TEXT)
    assert completion["max_tokens"] == 512

    assert response.json()["sources"] == [
        {"id": "law-3", "distance": 0.12, "metadata": {"source": "주택임대차보호법"}},
        {"id": "deposit-1", "distance": 0.34, "metadata": None},
    ]


def test_upstream_calls_carry_the_configured_timeouts(client: TestClient, upstreams: respx.MockRouter) -> None:
    client.post("/analyze", json={"type": "contract", "text": CONTRACT_TEXT})

    vllm_timeouts = upstreams["completions"].calls.last.request.extensions["timeout"]
    chroma_timeouts = upstreams["query"].calls.last.request.extensions["timeout"]
    assert vllm_timeouts["read"] == 1.0
    assert chroma_timeouts["read"] == 1.0


def test_an_empty_collection_still_analyses(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["query"].respond(json={"ids": [[]], "documents": [[]], "metadatas": [[]], "distances": [[]]})

    response = client.post("/analyze", json={"type": "checklist", "text": CONTRACT_TEXT})

    assert response.status_code == 200, response.text
    assert response.json()["sources"] == []
    assert "(관련 자료 없음)" in sent_json(upstreams["completions"])["prompt"]


def test_a_vllm_timeout_is_a_504_that_names_the_setting(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["completions"].side_effect = timeout

    response = client.post("/analyze", json={"type": "contract", "text": CONTRACT_TEXT})

    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 504
    assert problem["upstream"] == "vLLM"
    assert "VLLM_TIMEOUT_SECONDS" in problem["detail"]


def test_a_chromadb_timeout_is_a_504_and_vllm_is_not_called(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["query"].side_effect = timeout

    response = client.post("/analyze", json={"type": "contract", "text": CONTRACT_TEXT})

    assert response.status_code == 504
    assert response.json()["upstream"] == "ChromaDB"
    assert "CHROMA_TIMEOUT_SECONDS" in response.json()["detail"]
    assert not upstreams["completions"].called


def test_a_vllm_500_is_a_502_with_its_message(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["completions"].respond(500, json={"message": "CUDA out of memory"})

    response = client.post("/analyze", json={"type": "risk", "text": CONTRACT_TEXT})

    assert response.status_code == 502
    problem = response.json()
    assert problem["upstream"] == "vLLM"
    assert "500" in problem["detail"]
    assert "CUDA out of memory" in problem["detail"]


def test_a_chromadb_500_is_a_502(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["query"].respond(500, text="internal error")

    response = client.post("/analyze", json={"type": "risk", "text": CONTRACT_TEXT})

    assert response.status_code == 502
    assert response.json()["upstream"] == "ChromaDB"


def test_an_unreachable_vllm_is_a_502(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["completions"].side_effect = httpx.ConnectError("connection refused")

    response = client.post("/analyze", json={"type": "risk", "text": CONTRACT_TEXT})

    assert response.status_code == 502
    assert "could not reach vLLM" in response.json()["detail"]


def test_a_missing_collection_says_how_to_fix_it(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["collection"].respond(404, json={"error": "NotFoundError", "message": "Collection not found"})

    response = client.post("/analyze", json={"type": "risk", "text": CONTRACT_TEXT})

    assert response.status_code == 502
    assert "no collection 'dojangkok'" in response.json()["detail"]
    assert "CHROMA_COLLECTION" in response.json()["detail"]


@pytest.mark.parametrize(
    "completion",
    [{"choices": []}, {"object": "error"}, {"choices": [{"text": None}]}],
    ids=["no-choices", "no-choices-key", "null-text"],
)
def test_a_malformed_completion_is_a_502(client: TestClient, upstreams: respx.MockRouter, completion: dict) -> None:
    upstreams["completions"].respond(json=completion)

    response = client.post("/analyze", json={"type": "risk", "text": CONTRACT_TEXT})

    assert response.status_code == 502
    assert "unexpected body" in response.json()["detail"]


def test_a_non_json_answer_is_a_502(client: TestClient, upstreams: respx.MockRouter) -> None:
    upstreams["completions"].respond(200, text="<html>proxy error</html>")

    response = client.post("/analyze", json={"type": "risk", "text": CONTRACT_TEXT})

    assert response.status_code == 502


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"type": "summary", "text": CONTRACT_TEXT}, "body.type"),
        ({"text": CONTRACT_TEXT}, "body.type"),
        ({"type": "risk", "text": "   "}, "body.text"),
        ({"type": "risk"}, "body.text"),
        ({"type": "risk", "text": "가" * 8001}, "body.text"),
        ({"type": "risk", "text": CONTRACT_TEXT, "model": "other-lora"}, "body.model"),
    ],
    ids=["unknown-type", "no-type", "blank-text", "no-text", "too-long", "extra-field"],
)
def test_a_bad_request_is_a_422_problem_and_calls_no_upstream(
    client: TestClient, upstreams: respx.MockRouter, body: dict, location: str
) -> None:
    response = client.post("/analyze", json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert location in [e["location"] for e in problem["errors"]]
    assert location in problem["detail"]
    assert not upstreams.calls


def test_the_unknown_type_error_lists_the_valid_ones(client: TestClient, upstreams: respx.MockRouter) -> None:
    response = client.post("/analyze", json={"type": "summary", "text": CONTRACT_TEXT})

    detail = response.json()["detail"]
    assert "'checklist'" in detail
    assert "'contract'" in detail
    assert "'risk'" in detail


def test_a_body_that_is_not_json_is_a_422(client: TestClient, upstreams: respx.MockRouter) -> None:
    response = client.post("/analyze", content=b"{not json", headers={"content-type": "application/json"})

    assert response.status_code == 422
