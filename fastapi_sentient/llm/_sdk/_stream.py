"""Streams of the official SDKs, run through the pipeline like our own streams.

``sentient.llm.sdk.stream(provider, model, factory)`` calls ``factory()`` once
per attempt, inside the breaker and the attempt timeout.  The factory returns
what the SDK gives for a streamed call — an awaitable of a stream
(``client.chat.completions.create(..., stream=True)``,
``client.messages.create(..., stream=True)``) or a stream manager
(``client.messages.stream(...)``, ``client.chat.completions.stream(...)``) —
and the attempt lasts until the stream's first event: a failure before it is
retried or handed to the next fallback target, a failure after it reaches the
caller.  Each event is read by shape (:class:`~fastapi_sentient.llm._sdk._shapes.EventReader`)
for time to first token, usage, cost and the span, and handed on unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi_sentient.exceptions import LLMError
from fastapi_sentient.llm._open_stream import OpenStream, StreamOpener, open_events
from fastapi_sentient.llm._provider import Target
from fastapi_sentient.llm._sdk._shapes import EventReader, as_llm_error
from fastapi_sentient.llm._stream import LLMStream
from fastapi_sentient.llm._types import StreamEvent

Redact = Callable[[str], str]
Close = Callable[[], Awaitable[object]]


class SDKStream(LLMStream):
    """``async for event in stream`` yields the SDK's own events, unchanged.

    ``text_stream`` yields just the text instead.  Once the stream has ended,
    ``result`` holds usage, cost and who served (as for ``sentient.llm.stream``)
    and ``sdk_stream`` the SDK's stream object (Anthropic's
    ``get_final_message()`` works on it).  Use ``async with stream:`` (or
    ``await stream.aclose()``) to stop early: the connection goes back to the
    pool and the call is recorded as cancelled.
    """

    def __init__(
        self, start: Callable[[Callable[[Any], None]], AsyncGenerator[tuple[Target, StreamEvent]]]
    ) -> None:
        """``start(on_open)`` gives the pipeline's events; ``on_open`` receives the SDK stream."""
        self.sdk_stream: Any = None
        super().__init__(start(self._opened))

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._sdk_events()

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The text deltas alone (iterate this or the stream, not both)."""
        return self._texts()

    async def _sdk_events(self) -> AsyncIterator[Any]:
        async for event in self._consume():
            yield event.raw

    def _opened(self, sdk_stream: Any) -> None:
        self.sdk_stream = sdk_stream


async def _start(factory: Callable[[], Any]) -> tuple[Any, Close]:
    """Make the SDK call; the stream to iterate and how to close it."""
    made = factory()
    if inspect.isawaitable(made):
        made = await made
    if hasattr(made, "__aiter__"):
        closer = getattr(made, "close", None) or getattr(made, "aclose", None)
        if closer is None:
            msg = f"the SDK stream {type(made).__name__} has no close()"
            raise TypeError(msg)
        return made, closer
    if hasattr(made, "__aenter__"):
        stream = await made.__aenter__()

        async def leave() -> None:
            await made.__aexit__(None, None, None)

        return stream, leave
    msg = (
        "sdk.stream() needs a factory returning an SDK stream, e.g. lambda: "
        f"client.chat.completions.create(..., stream=True); got {type(made).__name__}"
    )
    raise TypeError(msg)


async def _events(
    stream: Any, close: Close, target: Target, redact: Redact
) -> AsyncGenerator[StreamEvent]:
    reader = EventReader()
    try:
        async for item in stream:
            yield reader.read(item)
    except LLMError:
        raise
    except Exception as exc:
        raise as_llm_error(exc, target, redact) from exc
    finally:
        await close()


def sdk_opener(
    factory: Callable[[], Any], redact: Redact, on_open: Callable[[Any], None]
) -> StreamOpener:
    """Open one attempt's SDK stream, up to its first event; SDK errors become ours."""

    async def opener(target: Target) -> OpenStream:
        try:
            stream, close = await _start(factory)
        except (LLMError, TypeError):
            raise
        except Exception as exc:
            raise as_llm_error(exc, target, redact) from exc
        opened = await open_events(target, _events(stream, close, target, redact))
        on_open(stream)
        return opened

    return opener
