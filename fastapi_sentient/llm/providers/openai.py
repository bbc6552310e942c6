"""OpenAI-compatible chat completions (OpenAI, Azure-style gateways, vLLM, Ollama, LiteLLM)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2

from fastapi_sentient.llm.content import OPENAI_STOP, ToolCallAssembler, stop_reason
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
from fastapi_sentient.llm.providers.openai_request import payload
from fastapi_sentient.llm.types import Completion, LLMRequest, StreamEvent, ToolCall, Usage
from fastapi_sentient.llm.usage import openai_usage

PATH = "chat/completions"


def _tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for item in message.get("tool_calls") or ():
        function = item.get("function") or {}
        arguments = function.get("arguments") or ""
        calls.append(
            ToolCall.from_json(
                str(item.get("id") or ""), str(function.get("name") or ""), arguments
            )
        )
    return tuple(calls)


def _usage(data: dict[str, Any] | None) -> Usage | None:
    return openai_usage(data) if isinstance(data, dict) else None


class OpenAIAdapter:
    """``POST chat/completions``; streaming asks for the final usage chunk."""

    kind = "openai"

    def __init__(
        self, *, max_tokens: int | None = None, max_tokens_name: str = "max_tokens"
    ) -> None:
        """``max_tokens``: sent when a call gives none (None: the server's default).

        ``max_tokens_name``: the field the limit goes in (``max_completion_tokens``
        for OpenAI itself, whose reasoning models refuse ``max_tokens``).
        """
        self.max_tokens = max_tokens
        self.max_tokens_name = max_tokens_name

    def payload(self, request: LLMRequest, *, stream: bool = False) -> dict[str, Any]:
        """The request body; raises ``Untranslatable`` for what chat completions cannot take."""
        return payload(
            request, stream=stream, max_tokens=self.max_tokens, max_tokens_name=self.max_tokens_name
        )

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
        choices = data.get("choices") or [{}]
        message = choices[0].get("message") or {}
        finish = choices[0].get("finish_reason")
        return Completion(
            text=str(message.get("content") or ""),
            usage=_usage(data.get("usage")) or Usage(),
            response_model=data.get("model"),
            finish_reason=finish,
            raw=data,
            tool_calls=_tool_calls(message),
            stop_reason=stop_reason(finish, OPENAI_STOP),
        )

    async def stream(
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
                usage: Usage | None = None
                finish: str | None = None
                response_model: str | None = None
                calls = ToolCallAssembler()
                async for event in httpx2.EventSource(response):
                    if event.data.strip() == "[DONE]":
                        yield StreamEvent(
                            usage=usage,
                            response_model=response_model,
                            finish_reason=finish,
                            done=True,
                            tool_calls=calls.calls(),
                            stop_reason=stop_reason(finish, OPENAI_STOP),
                        )
                        return
                    chunk = decode_object(event.data, provider=provider, model=model, redact=redact)
                    response_model = chunk.get("model") or response_model
                    usage = _usage(chunk.get("usage")) or usage
                    for choice in chunk.get("choices") or []:
                        if choice.get("index", 0) != 0:
                            continue
                        finish = choice.get("finish_reason") or finish
                        delta = choice.get("delta") or {}
                        for item in delta.get("tool_calls") or ():
                            index = int(item.get("index", 0))
                            function = item.get("function") or {}
                            calls.start(index, item.get("id"), function.get("name"))
                            calls.add(index, function.get("arguments"))
                        if delta.get("tool_calls"):
                            yield StreamEvent(tool_call_delta=True)
                        text = delta.get("content")
                        if text:
                            yield StreamEvent(text=str(text))
        except httpx2.HTTPError as exc:
            raise transport_error(exc, provider=provider, model=model, redact=redact) from None
        msg = f"{provider} ended the stream without [DONE]"
        raise ProviderConnectionError(msg, provider=provider, model=model)

    async def probe(self, client: httpx2.AsyncClient, *, redact: Redact) -> ProbeResult:
        """``GET models``: free, and a wrong key answers 401."""
        return await get_models(client, redact=redact)
