"""What a vendor's wire format is to the HTTP sending: a body out, a completion or events back.

A format is pure translation (no HTTP client): :class:`~fastapi_sentient.llm._adapters._wire.WireAdapter`
sends its bodies through the provider's pooled client and hands it the decoded
answers, so a vendor module holds only what differs between vendors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from fastapi_sentient.llm._adapters._content import ToolCallAssembler, stop_reason
from fastapi_sentient.llm._errors import ProviderError
from fastapi_sentient.llm._types import Completion, LLMRequest, StopReason, StreamEvent, Usage

Redact = Callable[[str], str]


class StreamReader(Protocol):
    """Turns one stream's server-sent events into our events; one reader per stream."""

    def read(self, event: str, data: str) -> Iterable[StreamEvent]:
        """Our events for one server-sent event (an event with ``done=True`` ends the stream)."""
        ...


class WireFormat(Protocol):
    """One vendor's request and response shapes."""

    kind: str
    """The OpenTelemetry ``gen_ai.provider.name`` (``openai``, ``anthropic``)."""
    path: str
    """Where requests are POSTed, relative to the provider's base URL."""
    end_of_stream: str
    """What a complete stream ends with, named when one ends without it."""

    def payload(self, request: LLMRequest, *, stream: bool = False) -> dict[str, Any]:
        """The request body; raises ``Untranslatable`` for what the format cannot take."""
        ...

    def completion(self, data: dict[str, Any]) -> Completion:
        """A whole answer from its decoded body."""
        ...

    def reader(self, *, provider: str, model: str, redact: Redact) -> StreamReader:
        """A reader for one streamed answer."""
        ...


class StreamState:
    """What every vendor's stream reader keeps: tool calls, finish reason and serving model.

    A vendor's reader subclasses it and adds how its events carry those (and usage).
    """

    stop_reasons: Mapping[str, StopReason]
    """The vendor's finish reasons in our words."""

    def __init__(self, *, provider: str, model: str, redact: Redact) -> None:
        self.provider = provider
        self.model = model
        self.redact = redact
        self.calls = ToolCallAssembler()
        self.finish: str | None = None
        self.response_model: str | None = None

    def decode(self, data: str) -> dict[str, Any]:
        """One event's JSON object (a 200 carrying an error raises)."""
        return decode_object(data, provider=self.provider, model=self.model, redact=self.redact)

    def done(self, usage: Usage | None) -> StreamEvent:
        """The last event: usage, the assembled tool calls and why the answer stopped."""
        return StreamEvent(
            usage=usage,
            response_model=self.response_model,
            finish_reason=self.finish,
            done=True,
            tool_calls=self.calls.calls(),
            stop_reason=stop_reason(self.finish, self.stop_reasons),
        )


def decode_object(raw: bytes | str, *, provider: str, model: str, redact: Redact) -> dict[str, Any]:
    """Parse a JSON object; a 200 carrying ``{"error": ...}`` is a provider failure."""
    try:
        data = json.loads(raw)
    except ValueError:
        msg = f"{provider} sent a body that is not JSON"
        raise ProviderError(msg, provider=provider, model=model, status=502) from None
    if not isinstance(data, dict):
        msg = f"{provider} sent JSON that is not an object"
        raise ProviderError(msg, provider=provider, model=model, status=502)
    error = data.get("error")
    if error and data.get("type") != "message" and "choices" not in data:
        detail = error.get("message", error) if isinstance(error, dict) else error
        kind = error.get("type", "") if isinstance(error, dict) else ""
        status = 529 if kind == "overloaded_error" else 502
        msg = redact(f"{provider} returned an error body: {str(detail)[:300]}")
        raise ProviderError(msg, provider=provider, model=model, status=status)
    return data
