"""Retrieving context passages from ChromaDB through its HTTP API (v2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from .embedding import embed
from .settings import Settings
from .upstream import UpstreamError, is_up, request_json, unexpected

UPSTREAM = "ChromaDB"


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    distance: float | None = None
    metadata: dict[str, Any] | None = None


def collections_url(settings: Settings) -> str:
    """The v2 API's collections of the configured tenant and database."""
    return (
        f"{settings.chroma_url}/api/v2/tenants/{quote(settings.chroma_tenant, safe='')}"
        f"/databases/{quote(settings.chroma_database, safe='')}/collections"
    )


class ChromaRetriever:
    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._collections = collections_url(settings)

    async def _json(self, method: str, url: str, body: Any = None) -> Any:
        return await request_json(
            self._client,
            UPSTREAM,
            method,
            url,
            json=body,
            timeout=self._settings.chroma_timeout,
            timeout_setting="CHROMA_TIMEOUT_SECONDS",
        )

    async def _collection_id(self) -> str:
        name = self._settings.chroma_collection
        try:
            collection = await self._json("GET", f"{self._collections}/{quote(name, safe='')}")
        except UpstreamError as exc:
            if exc.upstream_status == 404:
                raise UpstreamError(
                    UPSTREAM,
                    502,
                    f"ChromaDB has no collection {name!r} in {self._settings.chroma_tenant}/"
                    f"{self._settings.chroma_database}: load the knowledge base, or set CHROMA_COLLECTION",
                ) from exc
            raise
        if not isinstance(collection, dict) or not isinstance(collection.get("id"), str):
            raise unexpected(UPSTREAM, "collection without an id")
        return collection["id"]

    async def retrieve(self, text: str) -> list[Passage]:
        """The collection's nearest passages to text, best first."""
        collection_id = await self._collection_id()
        body = {
            "query_embeddings": [embed(text, self._settings.embedding_dim)],
            "n_results": self._settings.retrieval_results,
            "include": ["documents", "metadatas", "distances"],
        }
        result = await self._json("POST", f"{self._collections}/{collection_id}/query", body)
        return _passages(result)

    async def reachable(self) -> bool:
        return await is_up(self._client, f"{self._settings.chroma_url}/api/v2/heartbeat", self._settings.health_timeout)


def _first(result: dict[str, Any], key: str, length: int) -> list[Any]:
    """Row 0 (the one query embedding sent) of a column of Chroma's query result; absent columns are Nones."""
    rows = result.get(key)
    if not rows:
        return [None] * length
    if not isinstance(rows, list) or not isinstance(rows[0], list) or len(rows[0]) != length:
        raise unexpected(UPSTREAM, f"query result column {key!r} does not match its ids")
    return rows[0]


def _passages(result: Any) -> list[Passage]:
    if not isinstance(result, dict) or not isinstance(result.get("ids"), list) or not result["ids"]:
        raise unexpected(UPSTREAM, "query result without ids")
    ids = result["ids"][0]
    if not isinstance(ids, list):
        raise unexpected(UPSTREAM, "query result ids are not a list of lists")
    documents = _first(result, "documents", len(ids))
    distances = _first(result, "distances", len(ids))
    metadatas = _first(result, "metadatas", len(ids))
    return [
        Passage(id=str(i), text=d, distance=dist, metadata=m)
        for i, d, dist, m in zip(ids, documents, distances, metadatas, strict=True)
        if isinstance(d, str) and d.strip()
    ]
