"""Calling an upstream over HTTP and turning every way it can fail into one UpstreamError."""

from __future__ import annotations

from typing import Any

import httpx


class UpstreamError(Exception):
    """An upstream (vLLM, ChromaDB) failed; status is what the AI server answers: 502 or 504."""

    def __init__(self, upstream: str, status: int, detail: str, upstream_status: int | None = None) -> None:
        super().__init__(detail)
        self.upstream = upstream
        self.status = status
        self.detail = detail
        self.upstream_status = upstream_status  # the HTTP status the upstream answered, if it answered


def unexpected(upstream: str, what: str) -> UpstreamError:
    return UpstreamError(upstream, 502, f"{upstream} answered with an unexpected body: {what}")


async def request_json(
    client: httpx.AsyncClient,
    upstream: str,
    method: str,
    url: str,
    *,
    timeout: float,
    timeout_setting: str,
    json: Any = None,
) -> Any:
    """Send one request and return its JSON body, or raise UpstreamError (504 on timeout, 502 otherwise)."""
    try:
        response = await client.request(method, url, json=json, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise UpstreamError(
            upstream,
            504,
            f"{upstream} did not answer {method} {url} within {timeout:g} s "
            f"({type(exc).__name__}); raise {timeout_setting} if it is just slow",
        ) from exc
    except httpx.TransportError as exc:
        raise UpstreamError(
            upstream, 502, f"could not reach {upstream} at {url} ({type(exc).__name__}: {exc}); is it running?"
        ) from exc
    if response.is_error:
        raise UpstreamError(
            upstream,
            502,
            f"{upstream} answered {response.status_code} to {method} {url}: {response.text[:300]}",
            upstream_status=response.status_code,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise unexpected(upstream, f"not JSON ({response.text[:120]!r})") from exc


async def is_up(client: httpx.AsyncClient, url: str, timeout: float) -> bool:
    """True when GET url answers 2xx within timeout; never raises (health reporting must not fail)."""
    try:
        response = await client.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.is_success
