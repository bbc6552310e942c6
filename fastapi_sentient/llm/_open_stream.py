"""A provider stream that has produced its first event.

A stream can be retried (or handed to the next fallback target) only until its
first event: after text reached the caller, a failure is the caller's to see.
So "opening" a stream means reading up to the first event under the attempt's
timeout; :class:`OpenStream` then replays that event and goes on with the rest.
A :data:`StreamOpener` opens one attempt's stream: through a wire adapter
(:func:`adapter_opener`) or an official SDK (:mod:`fastapi_sentient.llm._sdk._stream`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi_sentient.llm._errors import ProviderConnectionError
from fastapi_sentient.llm._types import LLMRequest, StreamEvent, Usage
from fastapi_sentient.tracing._spans import LLMSpan

if TYPE_CHECKING:
    from fastapi_sentient.llm._adapters._format import Redact
    from fastapi_sentient.llm._breaker import CircuitBreaker, Permit
    from fastapi_sentient.llm._provider import Target


@dataclass(slots=True)
class OpenStream:
    """A stream past its first event, with what it has reported so far."""

    target: Target
    generator: AsyncIterator[StreamEvent]
    buffered: list[StreamEvent]
    first_text_at: float | None = None
    breaker: CircuitBreaker | None = None
    permit: Permit | None = None
    started: float = 0.0
    ttft_recorded: bool = False
    usage: Usage = field(default_factory=Usage)
    response_model: str | None = None
    finish_reason: str | None = None
    cost: float | None = None
    span: LLMSpan = field(default_factory=LLMSpan)

    def _note(self, event: StreamEvent) -> None:
        if (event.text or event.tool_call_delta) and self.first_text_at is None:
            self.first_text_at = time.perf_counter()
        if event.usage is not None:
            self.usage = event.usage
        self.response_model = event.response_model or self.response_model
        self.finish_reason = event.finish_reason or self.finish_reason

    async def events(self) -> AsyncGenerator[StreamEvent]:
        """The buffered first event, then the rest until the provider says done."""
        while self.buffered:
            event = self.buffered.pop(0)
            self._note(event)
            yield event
            if event.done:
                return
        async for event in self.generator:
            self._note(event)
            yield event
            if event.done:
                return

    async def aclose(self) -> None:
        """Close the provider stream (and with it the pooled connection)."""
        closer: Any = getattr(self.generator, "aclose", None)
        if closer is not None:
            await closer()


StreamOpener = Callable[["Target"], Awaitable[OpenStream]]
"""Opens one attempt's stream against a target, up to its first event."""


async def open_events(target: Target, generator: AsyncIterator[StreamEvent]) -> OpenStream:
    """Wait for ``generator``'s first event; close it if that fails."""
    try:
        first = await anext(generator)
    except StopAsyncIteration:
        name = target.provider.name
        msg = f"{name} closed the stream before sending anything"
        raise ProviderConnectionError(msg, provider=name, model=target.model) from None
    except BaseException:
        if isinstance(generator, AsyncGenerator):
            await generator.aclose()
        raise
    opened = OpenStream(target, generator, [first])
    if first.text or first.tool_call_delta:
        opened.first_text_at = time.perf_counter()
    return opened


async def open_stream(target: Target, request: LLMRequest, redact: Redact) -> OpenStream:
    """Start ``target``'s stream through its wire adapter and wait for its first event."""
    provider = target.provider
    generator = provider.adapter.stream(
        provider.client(), request, provider=provider.name, redact=redact
    )
    return await open_events(target, generator)


def adapter_opener(request: LLMRequest, redact: Redact) -> StreamOpener:
    """Open ``request`` as a stream of the target's model, through its wire adapter."""

    async def opener(target: Target) -> OpenStream:
        return await open_stream(target, dataclasses.replace(request, model=target.model), redact)

    return opener
