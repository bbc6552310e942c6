"""OpenAI-compatible chat completions (OpenAI, Azure-style gateways, vLLM, Ollama, LiteLLM)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2

from fastapi_sentient.llm.errors import ProviderConnectionError
from fastapi_sentient.llm.providers.base import (
    ProbeResult,
    Redact,
    decode_object,
    error_from_response,
    get_models,
    post_json,
    transport_error,
)
from fastapi_sentient.llm.types import Completion, LLMRequest, StreamEvent, Usage
from fastapi_sentient.llm.usage import openai_usage

PATH = "chat/completions"


def _payload(request: LLMRequest, *, stream: bool, max_tokens: int | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": request.model, "messages": list(request.messages)}
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    payload.update({k: v for k, v in request.parameters.items() if v is not None})
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def _usage(data: dict[str, Any] | None) -> Usage | None:
    return openai_usage(data) if isinstance(data, dict) else None


class OpenAIAdapter:
    """``POST chat/completions``; streaming asks for the final usage chunk."""

    kind = "openai"

    def __init__(self, *, max_tokens: int | None = None) -> None:
        """``max_tokens``: sent when a call gives none (None: the server's default)."""
        self.max_tokens = max_tokens

    async def complete(
        self, client: httpx2.AsyncClient, request: LLMRequest, *, provider: str, redact: Redact
    ) -> Completion:
        """Send ``request`` and return the whole answer."""
        data = await post_json(
            client,
            PATH,
            _payload(request, stream=False, max_tokens=self.max_tokens),
            provider=provider,
            model=request.model,
            redact=redact,
        )
        choices = data.get("choices") or [{}]
        message = choices[0].get("message") or {}
        return Completion(
            text=str(message.get("content") or ""),
            usage=_usage(data.get("usage")) or Usage(),
            response_model=data.get("model"),
            finish_reason=choices[0].get("finish_reason"),
            raw=data,
        )

    async def stream(
        self, client: httpx2.AsyncClient, request: LLMRequest, *, provider: str, redact: Redact
    ) -> AsyncIterator[StreamEvent]:
        """Yield text deltas, then one event with usage and ``done=True``."""
        model = request.model
        try:
            async with client.stream(
                "POST", PATH, json=_payload(request, stream=True, max_tokens=self.max_tokens)
            ) as response:
                if response.status_code >= 400:
                    body = await response.aread()
                    raise error_from_response(
                        response, body, provider=provider, model=model, redact=redact
                    )
                usage: Usage | None = None
                finish: str | None = None
                response_model: str | None = None
                async for event in httpx2.EventSource(response):
                    if event.data.strip() == "[DONE]":
                        yield StreamEvent(
                            usage=usage,
                            response_model=response_model,
                            finish_reason=finish,
                            done=True,
                        )
                        return
                    chunk = decode_object(event.data, provider=provider, model=model, redact=redact)
                    response_model = chunk.get("model") or response_model
                    usage = _usage(chunk.get("usage")) or usage
                    for choice in chunk.get("choices") or []:
                        finish = choice.get("finish_reason") or finish
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            yield StreamEvent(text=str(text))
        except httpx2.HTTPError as exc:
            raise transport_error(exc, provider=provider, model=model, redact=redact) from None
        msg = f"{provider} ended the stream without [DONE]"
        raise ProviderConnectionError(msg, provider=provider, model=model)

    async def probe(self, client: httpx2.AsyncClient, *, redact: Redact) -> ProbeResult:
        """``GET models``: free, and a wrong key answers 401."""
        return await get_models(client, redact=redact)
