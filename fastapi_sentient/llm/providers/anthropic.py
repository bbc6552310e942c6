"""Anthropic messages (``POST messages``), streaming included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2

from fastapi_sentient.llm.errors import ProviderConnectionError, ProviderError
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
from fastapi_sentient.llm.usage import AnthropicUsage, anthropic_usage

PATH = "messages"
#: Anthropic requires max_tokens: the default of SENTIENT_LLM_ANTHROPIC_MAX_TOKENS.
DEFAULT_MAX_TOKENS = 4096


def _payload(request: LLMRequest, *, stream: bool, max_tokens: int) -> dict[str, Any]:
    system = [m["content"] for m in request.messages if m["role"] == "system"]
    messages = [dict(m) for m in request.messages if m["role"] != "system"]
    payload: dict[str, Any] = {"model": request.model, "messages": messages}
    payload.update({k: v for k, v in request.parameters.items() if v is not None})
    payload.setdefault("max_tokens", max_tokens)
    if system:
        payload["system"] = "\n\n".join(system)
    if stream:
        payload["stream"] = True
    return payload


def _usage(data: Any) -> Usage | None:
    return anthropic_usage(data) if isinstance(data, dict) else None


class AnthropicAdapter:
    """``POST messages``; streamed usage comes from ``message_start`` and ``message_delta``."""

    kind = "anthropic"

    def __init__(self, *, max_tokens: int | None = None) -> None:
        """``max_tokens``: sent when a call gives none (Anthropic requires one)."""
        self.max_tokens = max_tokens or DEFAULT_MAX_TOKENS

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
        blocks = data.get("content") or []
        text = "".join(
            str(b.get("text", ""))
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
        return Completion(
            text=text,
            usage=_usage(data.get("usage")) or Usage(),
            response_model=data.get("model"),
            finish_reason=data.get("stop_reason"),
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
                usage = AnthropicUsage()
                finish: str | None = None
                response_model: str | None = None
                async for event in httpx2.EventSource(response):
                    if event.event == "ping" or not event.data:
                        continue
                    data = decode_object(event.data, provider=provider, model=model, redact=redact)
                    kind = data.get("type", event.event)
                    if kind == "message_start":
                        message = data.get("message") or {}
                        response_model = message.get("model")
                        usage.merge(message.get("usage"))
                    elif kind == "content_block_delta":
                        delta = data.get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            yield StreamEvent(text=str(delta["text"]))
                    elif kind == "message_delta":
                        finish = (data.get("delta") or {}).get("stop_reason") or finish
                        usage.merge(data.get("usage"))
                    elif kind == "message_stop":
                        yield StreamEvent(
                            usage=usage.usage,
                            response_model=response_model,
                            finish_reason=finish,
                            done=True,
                        )
                        return
                    elif kind == "error":
                        error = data.get("error") or {}
                        overloaded = (
                            isinstance(error, dict) and error.get("type") == "overloaded_error"
                        )
                        msg = redact(f"{provider} stream error: {str(error)[:300]}")
                        status = 529 if overloaded else 500
                        raise ProviderError(msg, provider=provider, model=model, status=status)
        except httpx2.HTTPError as exc:
            raise transport_error(exc, provider=provider, model=model, redact=redact) from None
        msg = f"{provider} ended the stream without message_stop"
        raise ProviderConnectionError(msg, provider=provider, model=model)

    async def probe(self, client: httpx2.AsyncClient, *, redact: Redact) -> ProbeResult:
        """``GET models``: free, and a wrong key answers 401."""
        return await get_models(client, redact=redact)
