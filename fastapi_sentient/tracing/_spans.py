"""Span helpers for the rest of the package: LLM calls and state-change events.

They are safe to call unconditionally — with tracing off, or without
OpenTelemetry installed, they do nothing and cost a function call — so the LLM
layer and the cluster do not need to know whether tracing is on::

    with llm_span("openai", "gpt-4o-mini", "chat", max_tokens=256) as span:
        completion = await adapter.complete(...)
        span.record_response(model=completion.model, input_tokens=..., output_tokens=...)

    add_event("circuit_breaker.state_change", {"breaker": name, "from": "closed", "to": "open"})

A streamed answer outlives the call that opened it, so its span is started and
ended by hand (see :func:`start_llm_span`).

Which app's tracer they use is per app, not per process: each app's
:class:`~fastapi_sentient.tracing._component.Tracing` holds its :class:`SpanHelpers`
and makes them current — for each request (the server-span middleware) and for
the background tasks its lifespan starts — through a context variable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar, Token
from typing import Any

try:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # the tracing extra is not installed
    trace = None  # type: ignore[assignment]

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]

#: The helpers of the app serving the current request or task; None while tracing is off.
CURRENT: ContextVar[SpanHelpers | None] = ContextVar("fastapi_sentient.tracing", default=None)


def use(helpers: SpanHelpers | None) -> Token[SpanHelpers | None]:
    """Make ``helpers`` the ones the module functions use in this context."""
    return CURRENT.set(helpers)


def active() -> bool:
    """Whether tracing is on for the app serving this context."""
    return CURRENT.get() is not None


class LLMSpan:
    """The span of one LLM call; every method is a no-op when tracing is off."""

    __slots__ = ("_ended", "span")

    def __init__(self, span: Any = None) -> None:
        self.span = span
        self._ended = False

    def record_response(
        self,
        *,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        finish_reasons: Sequence[str] | None = None,
        response_id: str | None = None,
        usage: Any = None,
    ) -> None:
        """What the provider answered, as ``gen_ai.response.*`` and ``gen_ai.usage.*``.

        ``usage`` (an LLM :class:`~fastapi_sentient.llm.Usage`) gives the
        input and output counts and, when non-zero, the cache and reasoning parts.
        """
        if self.span is None or not self.span.is_recording():
            return
        attributes: dict[str, AttributeValue] = {}
        if model:
            attributes["gen_ai.response.model"] = model
        if usage is not None:
            input_tokens, output_tokens = usage.input_tokens, usage.output_tokens
            for name, count in (
                ("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens),
                ("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens),
                ("gen_ai.usage.reasoning.output_tokens", usage.reasoning_tokens),
            ):
                if count:
                    attributes[name] = count
        if input_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = input_tokens
        if output_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = output_tokens
        if finish_reasons:
            attributes["gen_ai.response.finish_reasons"] = list(finish_reasons)
        if response_id:
            attributes["gen_ai.response.id"] = response_id
        self.span.set_attributes(attributes)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Any other attribute (``gen_ai.*`` or ours)."""
        if self.span is not None:
            self.span.set_attribute(key, value)

    def add_event(self, name: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        """An event on this span (a retry, a fallback, the first streamed chunk)."""
        if self.span is not None:
            self.span.add_event(name, dict(attributes or {}))

    def current(self) -> AbstractContextManager[Any]:
        """Make this span the parent of spans started inside the block (the HTTP request)."""
        if self.span is None:
            return nullcontext()
        return trace.use_span(
            self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )

    def end(self, error: BaseException | None = None) -> None:
        """End the span (once); an ``error`` marks it failed with ``error.type``."""
        if self.span is None or self._ended:
            return
        self._ended = True
        if error is not None and self.span.is_recording():
            self.span.record_exception(error)
            self.span.set_attribute("error.type", type(error).__qualname__)
            self.span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        self.span.end()


def start_llm_span(
    provider: str,
    model: str,
    operation: str = "chat",
    *,
    server_address: str | None = None,
    server_port: int | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stream: bool = False,
) -> LLMSpan:
    """A CLIENT span ``"{operation} {model}"`` with GenAI attributes, for calls that outlive a block.

    A streamed answer is consumed chunk by chunk, often after the call that
    opened it returned; so this span is not made current (a context attached in
    one step of an async generator and detached in another breaks).  Wrap the
    calls that should be its children in :meth:`LLMSpan.current` and call
    :meth:`LLMSpan.end` when the stream is done.
    """
    helpers = CURRENT.get()
    if helpers is None:
        return LLMSpan()
    tracer = helpers.tracer
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
    }
    if server_address:
        attributes["server.address"] = server_address
    if server_port:
        attributes["server.port"] = server_port
    if max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = max_tokens
    if temperature is not None:
        attributes["gen_ai.request.temperature"] = temperature
    if stream:
        attributes["gen_ai.request.stream"] = True
    span = tracer.start_span(
        f"{operation} {model}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    )
    return LLMSpan(span)


@contextmanager
def llm_span(
    provider: str,
    model: str,
    operation: str = "chat",
    *,
    server_address: str | None = None,
    server_port: int | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stream: bool = False,
) -> Iterator[LLMSpan]:
    """:func:`start_llm_span` as a current span for the block.

    An exception leaving the block marks the span as failed with ``error.type``
    and propagates unchanged.
    """
    span = start_llm_span(
        provider,
        model,
        operation,
        server_address=server_address,
        server_port=server_port,
        max_tokens=max_tokens,
        temperature=temperature,
        stream=stream,
    )
    try:
        with span.current():
            yield span
    except BaseException as exc:
        span.end(exc)
        raise
    span.end()


def add_event(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
    """Record a state change as a span event.

    Inside a traced request or LLM call the event lands on the current span;
    in a background loop (leader election, a breaker timer) it gets a short span
    of its own, so the transition is still findable in the trace backend.
    """
    helpers = CURRENT.get()
    if helpers is not None:
        helpers.add_event(name, attributes)


class SpanHelpers:
    """One app's tracer behind the module's helpers."""

    __slots__ = ("tracer",)

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    def add_event(self, name: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        """:func:`add_event` with this app's tracer, wherever it is called from."""
        values = dict(attributes or {})
        current = trace.get_current_span()
        if current.is_recording():
            current.add_event(name, values)
            return
        span = self.tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=values)
        span.add_event(name, values)
        span.end()
