"""Loading the knowledge base: file validation, collection creation and batched upserts over HTTP."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import respx
from aiserver import knowledge
from aiserver.embedding import embed
from aiserver.knowledge import Entry, KnowledgeFileError, read_entries
from aiserver.settings import Settings
from conftest import CHROMA, COLLECTION_ID, COLLECTIONS

SEED = Path(__file__).resolve().parents[1] / "knowledge" / "seed.jsonl"


@pytest.fixture
def chroma() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        router.post(COLLECTIONS, name="create").respond(json={"id": COLLECTION_ID, "name": "dojangkok"})
        router.post(f"{COLLECTIONS}/{COLLECTION_ID}/upsert", name="upsert").respond(json={})
        yield router


def test_the_shipped_seed_is_valid() -> None:
    entries = read_entries(SEED)

    assert len(entries) >= 5
    assert all(e.text.strip() for e in entries)


def test_loading_creates_the_collection_and_upserts_embedded_passages(
    chroma: respx.MockRouter, settings: Settings
) -> None:
    entries = [Entry("a", "보증금 반환", {"source": "law"}), Entry("b", "계약 갱신")]

    async def run() -> str:
        async with httpx.AsyncClient() as client:
            return await knowledge.load(client, settings, entries)

    assert asyncio.run(run()) == COLLECTION_ID
    assert json.loads(chroma["create"].calls.last.request.content) == {"name": "dojangkok", "get_or_create": True}
    upsert = json.loads(chroma["upsert"].calls.last.request.content)
    assert upsert["ids"] == ["a", "b"]
    assert upsert["documents"] == ["보증금 반환", "계약 갱신"]
    assert upsert["metadatas"] == [{"source": "law"}, None]
    assert upsert["embeddings"][0] == embed("보증금 반환", settings.embedding_dim)


def test_the_command_loads_in_batches(
    chroma: respx.MockRouter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "many.jsonl"
    data.write_text("\n".join(json.dumps({"id": f"p{n}", "text": f"조항 {n}"}) for n in range(250)) + "\n")
    monkeypatch.setenv("CHROMA_URL", CHROMA)

    assert knowledge.main([str(data)]) == 0
    assert [len(json.loads(c.request.content)["ids"]) for c in chroma["upsert"].calls] == [100, 100, 50]
    assert "loaded 250 passages" in capsys.readouterr().out


def test_the_command_reports_an_unreachable_chromadb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHROMA_URL", CHROMA)
    with respx.mock() as router:
        router.post(COLLECTIONS).respond(503, text="starting")
        assert knowledge.main([str(SEED)]) == 1
    assert "ChromaDB answered 503" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "text": "x"}\n{oops\n', "bad.jsonl:2: not JSON"),
        ('{"text": "no id"}\n', "expected"),
        ('{"id": "a", "text": "  "}\n', "has no text"),
        ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "appears twice"),
        ('{"id": "a", "text": "x", "metadata": {"tags": ["nested"]}}\n', "flat object"),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)

    with pytest.raises(KnowledgeFileError, match=message):
        read_entries(bad)


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    data = tmp_path / "gaps.jsonl"
    data.write_text('\n{"id": "a", "text": "x"}\n\n')

    assert read_entries(data) == [Entry("a", "x")]


def test_the_embedding_dimension_follows_the_settings(chroma: respx.MockRouter, settings: Settings) -> None:
    small = replace(settings, embedding_dim=16)

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            await knowledge.load(client, small, [Entry("a", "보증금")])

    asyncio.run(run())
    assert len(json.loads(chroma["upsert"].calls.last.request.content)["embeddings"][0]) == 16
