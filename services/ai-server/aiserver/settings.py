"""The AI server's settings, read once from the environment at start-up."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any


class SettingsError(ValueError):
    """An environment variable holds a value the server cannot use."""


def _url(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL such as http://vllm:8001, got {raw!r}")
    return value


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise SettingsError(f"{name} must be a positive number of seconds, e.g. {name}=30, got {raw!r}")
    return value


def _count(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SettingsError(f"{name} must be a positive whole number, got {raw!r}")
    return value


def _between(low: float, high: float, what: str) -> Callable[[str, str], float]:
    """A parser of numbers from `low` to `high`; `what` says what the variable holds, for the error."""

    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise SettingsError(f"{name} must be {what} between {low:g} and {high:g}, got {raw!r}")
        return value

    return parse


_ratio = _between(0, 2, "a number")
_delay = _between(0, 60, "seconds (0 = off)")
_fraction = _between(0, 1, "a fraction (0 = off)")


def _text(name: str, raw: str) -> str:
    if not raw.strip():
        raise SettingsError(f"{name} must not be empty")
    return raw.strip()


def _env(var: str, parse: Callable[[str, str], Any]) -> dict[str, Any]:
    return {"env": var, "parse": parse}


@dataclass(frozen=True)
class Settings:
    """Where the upstreams are and how long to wait for them. Defaults match docker-compose.yml."""

    vllm_url: str = field(default="http://vllm:8001", metadata=_env("VLLM_URL", _url))
    chroma_url: str = field(default="http://chromadb:8000", metadata=_env("CHROMA_URL", _url))
    chroma_tenant: str = field(default="default_tenant", metadata=_env("CHROMA_TENANT", _text))
    chroma_database: str = field(default="default_database", metadata=_env("CHROMA_DATABASE", _text))
    chroma_collection: str = field(default="dojangkok", metadata=_env("CHROMA_COLLECTION", _text))
    retrieval_results: int = field(default=4, metadata=_env("RETRIEVAL_RESULTS", _count))
    embedding_dim: int = field(default=384, metadata=_env("EMBEDDING_DIM", _count))
    # Generation on the L4 takes tens of seconds; retrieval and health probes should be quick.
    vllm_timeout: float = field(default=120.0, metadata=_env("VLLM_TIMEOUT_SECONDS", _seconds))
    chroma_timeout: float = field(default=5.0, metadata=_env("CHROMA_TIMEOUT_SECONDS", _seconds))
    health_timeout: float = field(default=2.0, metadata=_env("HEALTH_TIMEOUT_SECONDS", _seconds))
    max_tokens: int = field(default=512, metadata=_env("MAX_TOKENS", _count))
    temperature: float = field(default=0.2, metadata=_env("TEMPERATURE", _ratio))
    # Fault switches for release drills (a deploy's analysis gate, zero-downtime runs); off in production.
    # They touch every route but /health, as a real regression would: the instance stays healthy, users suffer.
    fault_latency: float = field(default=0.0, metadata=_env("FAULT_LATENCY_SECONDS", _delay))
    fault_error_ratio: float = field(default=0.0, metadata=_env("FAULT_ERROR_RATIO", _fraction))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from environment variables (unset ones keep their defaults); a bad value is a SettingsError."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            var, parse = f.metadata["env"], f.metadata["parse"]
            if var in environ:
                values[f.name] = parse(var, environ[var])
        return cls(**values)
