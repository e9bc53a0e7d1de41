"""Loading the knowledge base into ChromaDB, embedded exactly as the AI server embeds its queries.

    python3 -m aiserver.knowledge knowledge/seed.jsonl [more.jsonl ...]

Each line of a file is one passage: {"id": "...", "text": "...", "metadata": {...}} (metadata optional, flat).
Passages are upserted, so loading the same file twice changes nothing. The target comes from the same
environment as the server: CHROMA_URL, CHROMA_TENANT, CHROMA_DATABASE, CHROMA_COLLECTION, EMBEDDING_DIM.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .embedding import embed
from .retrieval import UPSTREAM, collections_url
from .settings import Settings, SettingsError
from .upstream import UpstreamError, request_json, unexpected

BATCH = 100


class KnowledgeFileError(ValueError):
    """A knowledge file line that is not a passage; the message names the file and line."""


@dataclass(frozen=True)
class Entry:
    id: str
    text: str
    metadata: dict[str, str | int | float | bool] | None = None


def read_entries(path: Path) -> list[Entry]:
    entries: list[Entry] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise KnowledgeFileError(f"{where}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("text"), str):
            raise KnowledgeFileError(f'{where}: expected {{"id": "...", "text": "...", "metadata": {{...}}}}')
        if not item["text"].strip():
            raise KnowledgeFileError(f"{where}: passage {item['id']!r} has no text")
        if item["id"] in seen:
            raise KnowledgeFileError(f"{where}: id {item['id']!r} appears twice")
        metadata = item.get("metadata") or None
        if metadata is not None and (
            not isinstance(metadata, dict)
            or not all(isinstance(v, str | int | float | bool) for v in metadata.values())
        ):
            raise KnowledgeFileError(f"{where}: metadata must be a flat object of strings, numbers and booleans")
        seen.add(item["id"])
        entries.append(Entry(id=item["id"], text=item["text"], metadata=metadata))
    return entries


async def load(client: httpx.AsyncClient, settings: Settings, entries: list[Entry]) -> str:
    """Create the collection if needed and upsert every entry; returns the collection id."""
    base = collections_url(settings)

    async def post(url: str, body: dict[str, Any]) -> Any:
        return await request_json(
            client,
            UPSTREAM,
            "POST",
            url,
            json=body,
            timeout=settings.chroma_timeout,
            timeout_setting="CHROMA_TIMEOUT_SECONDS",
        )

    collection = await post(base, {"name": settings.chroma_collection, "get_or_create": True})
    if not isinstance(collection, dict) or not isinstance(collection.get("id"), str):
        raise unexpected(UPSTREAM, "created collection without an id")
    for start in range(0, len(entries), BATCH):
        batch = entries[start : start + BATCH]
        await post(
            f"{base}/{collection['id']}/upsert",
            {
                "ids": [e.id for e in batch],
                "embeddings": [embed(e.text, settings.embedding_dim) for e in batch],
                "documents": [e.text for e in batch],
                "metadatas": [e.metadata for e in batch],
            },
        )
    return collection["id"]


async def _load_files(paths: list[Path], settings: Settings) -> int:
    entries = [entry for path in paths for entry in read_entries(path)]
    async with httpx.AsyncClient() as client:
        await load(client, settings, entries)
    return len(entries)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    try:
        settings = Settings.from_env()
        count = asyncio.run(_load_files([Path(a) for a in argv], settings))
    except (SettingsError, KnowledgeFileError, UpstreamError, OSError) as exc:
        print(f"knowledge: {exc}", file=sys.stderr)
        return 1
    print(f"loaded {count} passages into {settings.chroma_collection!r} at {settings.chroma_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
