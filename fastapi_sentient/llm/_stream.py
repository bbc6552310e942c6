"""The object ``sentient.llm.stream(...)`` returns: text chunks now, the bill at the end."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Self

from fastapi_sentient.llm._types import LLMResult, StopReason, StreamEvent, ToolCall, Usage

if TYPE_CHECKING:
    from fastapi_sentient.llm._provider import Target


class LLMStream:
    """Iterate for text; afterwards ``result`` holds usage, cost, tool calls and who served.

    Stop early with ``await stream.aclose()`` (or leave the loop inside
    ``async with stream:``): the provider connection goes back to the pool
    and the call is recorded as cancelled, neither success nor failure.
    """

    def __init__(self, events: AsyncGenerator[tuple[Target, StreamEvent]]) -> None:
        self._events = events
        self._parts: list[str] = []
        self.result: LLMResult | None = None
        self.provider: str | None = None
        self.model: str | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._texts()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _texts(self) -> AsyncIterator[str]:
        async for event in self._consume():
            if event.text:
                yield event.text

    async def _consume(self) -> AsyncIterator[StreamEvent]:
        """Every event of the served stream; sets ``result`` once it has ended."""
        usage = Usage()
        finish: str | None = None
        response_model: str | None = None
        stop: StopReason | None = None
        calls: tuple[ToolCall, ...] = ()
        target: Target | None = None
        async with aclosing(self._events) as events:
            async for target, event in events:
                self.provider, self.model = target.provider.name, target.model
                if event.usage is not None:
                    usage = event.usage
                finish = event.finish_reason or finish
                response_model = event.response_model or response_model
                stop = event.stop_reason or stop
                calls = event.tool_calls or calls
                if event.text:
                    self._parts.append(event.text)
                yield event
        if target is not None:
            self.result = LLMResult(
                text="".join(self._parts),
                usage=usage,
                cost_usd=target.provider.prices.cost(target.model, usage),
                provider=target.provider.name,
                model=target.model,
                response_model=response_model,
                finish_reason=finish,
                tool_calls=list(calls),
                stop_reason=stop,
            )

    async def aclose(self) -> None:
        """Stop the stream and release its connection."""
        await self._events.aclose()
