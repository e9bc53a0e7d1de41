"""Generation on vLLM's OpenAI-compatible API, one LoRA adapter per request."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .settings import Settings
from .upstream import is_up, request_json, unexpected

UPSTREAM = "vLLM"


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str | None


class VllmGenerator:
    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    async def complete(self, adapter: str, prompt: str) -> Completion:
        """Complete prompt with the adapter named `adapter` (vLLM selects a LoRA by the request's model)."""
        s = self._settings
        # /v1/completions rather than chat: the base model has no chat template to apply.
        body = {"model": adapter, "prompt": prompt, "max_tokens": s.max_tokens, "temperature": s.temperature}
        result = await request_json(
            self._client,
            UPSTREAM,
            "POST",
            f"{s.vllm_url}/v1/completions",
            json=body,
            timeout=s.vllm_timeout,
            timeout_setting="VLLM_TIMEOUT_SECONDS",
        )
        try:
            choice = result["choices"][0]
            text = choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            raise unexpected(UPSTREAM, "completion without choices[0].text") from exc
        if not isinstance(text, str):
            raise unexpected(UPSTREAM, "choices[0].text is not a string")
        return Completion(text=text.strip(), finish_reason=choice.get("finish_reason"))

    async def reachable(self) -> bool:
        return await is_up(self._client, f"{self._settings.vllm_url}/health", self._settings.health_timeout)
