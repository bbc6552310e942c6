"""Anthropic messages (``POST messages``), streaming included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from fastapi_sentient.llm.content import ANTHROPIC_STOP, ToolCallAssembler, stop_reason
from fastapi_sentient.llm.errors import ProviderConnectionError, ProviderError
from fastapi_sentient.llm.providers.anthropic_request import payload
from fastapi_sentient.llm.providers.base import (
    ProbeResult,
    Redact,
    decode_object,
    error_from_response,
    get_models,
    post_json,
    transport_error,
)
from fastapi_sentient.llm.types import Completion, LLMRequest, StreamEvent, ToolCall, Usage
from fastapi_sentient.llm.usage import AnthropicUsage, anthropic_usage

PATH = "messages"
#: Anthropic requires max_tokens: the default of SENTIENT_LLM_ANTHROPIC_MAX_TOKENS.
DEFAULT_MAX_TOKENS = 4096


def _usage(data: Any) -> Usage | None:
    return anthropic_usage(data) if isinstance(data, dict) else None


class AnthropicAdapter:
    """``POST messages``; streamed usage comes from ``message_start`` and ``message_delta``."""

    kind = "anthropic"

    def __init__(self, *, max_tokens: int | None = None) -> None:
        """``max_tokens``: sent when a call gives none (Anthropic requires one)."""
        self.max_tokens = max_tokens or DEFAULT_MAX_TOKENS

    def payload(self, request: LLMRequest, *, stream: bool = False) -> dict[str, Any]:
        """The request body; raises ``Untranslatable`` for what messages cannot take."""
        return payload(request, stream=stream, max_tokens=self.max_tokens)

    async def complete(
        self, client: httpx2.AsyncClient, request: LLMRequest, *, provider: str, redact: Redact
    ) -> Completion:
        """Send ``request`` and return the whole answer."""
        data = await post_json(
            client,
            PATH,
            self.payload(request),
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
        calls = tuple(
            ToolCall.from_json(str(b.get("id") or ""), str(b.get("name") or ""), "")
            if not isinstance(b.get("input"), dict)
            else ToolCall(
                str(b.get("id") or ""), str(b.get("name") or ""), b["input"], json.dumps(b["input"])
            )
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "tool_use"
        )
        return Completion(
            text=text,
            usage=_usage(data.get("usage")) or Usage(),
            response_model=data.get("model"),
            finish_reason=data.get("stop_reason"),
            raw=data,
            tool_calls=calls,
            stop_reason=stop_reason(data.get("stop_reason"), ANTHROPIC_STOP),
        )

    async def stream(  # noqa: C901  every SSE event type in one loop, in wire order
        self, client: httpx2.AsyncClient, request: LLMRequest, *, provider: str, redact: Redact
    ) -> AsyncIterator[StreamEvent]:
        """Yield text deltas, then one event with usage and ``done=True``."""
        model = request.model
        try:
            async with client.stream(
                "POST", PATH, json=self.payload(request, stream=True)
            ) as response:
                if response.status_code >= 400:
                    body = await response.aread()
                    raise error_from_response(
                        response, body, provider=provider, model=model, redact=redact
                    )
                usage = AnthropicUsage()
                calls = ToolCallAssembler()
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
                    elif kind == "content_block_start":
                        block = data.get("content_block") or {}
                        if block.get("type") == "tool_use":
                            index = int(data.get("index", 0))
                            calls.start(index, block.get("id"), block.get("name"))
                            yield StreamEvent(tool_call_delta=True)
                    elif kind == "content_block_delta":
                        delta = data.get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            yield StreamEvent(text=str(delta["text"]))
                        elif delta.get("type") == "input_json_delta":
                            calls.add(int(data.get("index", 0)), delta.get("partial_json"))
                            yield StreamEvent(tool_call_delta=True)
                    elif kind == "message_delta":
                        finish = (data.get("delta") or {}).get("stop_reason") or finish
                        usage.merge(data.get("usage"))
                    elif kind == "message_stop":
                        yield StreamEvent(
                            usage=usage.usage,
                            response_model=response_model,
                            finish_reason=finish,
                            done=True,
                            tool_calls=calls.calls(),
                            stop_reason=stop_reason(finish, ANTHROPIC_STOP),
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
