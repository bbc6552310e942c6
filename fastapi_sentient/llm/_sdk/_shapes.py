"""Reading the official SDKs' objects by shape: usage, stream events, exceptions.

Neither SDK is imported here (both are optional), and their types change
between releases, so responses, stream events and exceptions are read by the
attributes the wire formats guarantee: ``usage.prompt_tokens`` /
``usage.input_tokens``, a chat chunk's ``choices[0].delta.content``, Anthropic's
``message_start`` / ``content_block_delta`` / ``message_delta`` events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi_sentient.exceptions import LLMError
from fastapi_sentient.llm._errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ThrottledError,
)
from fastapi_sentient.llm._outcome import Outcome, classify
from fastapi_sentient.llm._provider import Target
from fastapi_sentient.llm._types import StreamEvent, Usage
from fastapi_sentient.llm._usage import (
    AnthropicUsage,
    field,
    is_anthropic,
    openai_usage,
    usage_from,
)


def usage_of(response: Any) -> Usage:
    """Tokens from an OpenAI (chat or Responses) or Anthropic response, in one meaning."""
    return usage_from(field(response, "usage"))


def as_llm_error(exc: Exception, target: Target, redact: Callable[[str], str]) -> LLMError:
    """Our classified error for an SDK exception."""
    verdict = classify(exc)
    name, model = target.provider.name, target.model
    text = redact(f"{name}: {type(exc).__name__}: {exc}")
    if verdict.outcome == Outcome.THROTTLED:
        return ThrottledError(text, provider=name, model=model, retry_after=verdict.retry_after)
    if verdict.error_type == "timeout":
        return ProviderTimeoutError(text, provider=name, model=model)
    if verdict.error_type == "connect":
        return ProviderConnectionError(text, provider=name, model=model)
    status = int(verdict.error_type) if verdict.error_type.isdigit() else 500
    return ProviderError(
        text,
        provider=name,
        model=model,
        status=status,
        retry_after=verdict.retry_after,
        should_retry=verdict.retryable if verdict.error_type.isdigit() else False,
    )


class EventReader:
    """Turns one SDK stream's events into :class:`StreamEvent` (the SDK's event as ``raw``).

    Understands OpenAI chat completion chunks (also as the ``chunk`` events of
    ``chat.completions.stream``) and Anthropic message events (raw, or through
    ``messages.stream``).  Anthropic reports input tokens in ``message_start``
    and the output total in ``message_delta``, so usage is carried across
    events; every event that changes it reports the total so far.  Other events
    pass through with no text or usage.
    """

    def __init__(self) -> None:
        self._anthropic = AnthropicUsage()
        self.usage = Usage()
        """Tokens reported so far."""

    def _merge(self, usage: Any) -> Usage | None:
        if usage is None:
            return None
        if is_anthropic(usage):
            self.usage = self._anthropic.merge(usage)
        else:
            self.usage = openai_usage(usage)
        return self.usage

    def read(self, event: Any) -> StreamEvent:
        """The text, usage, model and finish reason ``event`` carries."""
        kind = getattr(event, "type", None)
        if kind is None or kind == "chunk":
            chunk = event if kind is None else getattr(event, "chunk", None)
            return self._chat_chunk(chunk, event)
        if kind == "message_start":
            message = getattr(event, "message", None)
            return StreamEvent(
                usage=self._merge(getattr(message, "usage", None)),
                response_model=getattr(message, "model", None),
                raw=event,
            )
        if kind == "message_delta":
            delta = getattr(event, "delta", None)
            return StreamEvent(
                usage=self._merge(getattr(event, "usage", None)),
                finish_reason=getattr(delta, "stop_reason", None),
                raw=event,
            )
        if kind == "content_block_delta":
            delta = getattr(event, "delta", None)
            text = (
                getattr(delta, "text", None)
                if getattr(delta, "type", None) == "text_delta"
                else None
            )
            return StreamEvent(text=text if isinstance(text, str) else "", raw=event)
        return StreamEvent(raw=event)

    def _chat_chunk(self, chunk: Any, event: Any) -> StreamEvent:
        text, finish = "", None
        for choice in getattr(chunk, "choices", None) or ():
            if getattr(choice, "index", 0) != 0:
                continue
            content = getattr(getattr(choice, "delta", None), "content", None)
            text = content if isinstance(content, str) else ""
            finish = getattr(choice, "finish_reason", None)
        return StreamEvent(
            text=text,
            usage=self._merge(getattr(chunk, "usage", None)),
            response_model=getattr(chunk, "model", None),
            finish_reason=finish,
            raw=event,
        )
