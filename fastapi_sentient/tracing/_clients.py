"""Child spans for the pools: SQL statements, Redis commands, provider HTTP calls.

Every span here is a *child*: it is made only while a recording span is
current (a traced request, an LLM call, a user's own span).  The pools' own
background traffic — health-check ``SELECT 1`` and ``PING`` every few seconds,
provider probes — would otherwise start a fresh trace each time and bury the
real ones.

SQLAlchemy spans come from the engine's public cursor events with the stable
database semantic conventions (``db.system.name``, ``db.namespace``,
``db.query.text``); Redis spans from ``opentelemetry-instrumentation-redis`` on
our pool's client; provider HTTP calls from the client's event hooks, one
CLIENT span per attempt so retries show up as siblings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:
    import httpx2
    from sqlalchemy.engine import Engine

logger = logging.getLogger("fastapi_sentient.tracing")

_SPAN_ATTR = "_sentient_span"
_HTTP_SPAN = "sentient.span"
_DB_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql", "mssql": "mssql"}


class ChildSpansTracer(trace.Tracer):
    """A tracer that only makes spans under a recording parent."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(
        self,
        name: str,
        context: Any = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent = trace.get_current_span(context)
        if not parent.is_recording():
            return trace.NonRecordingSpan(parent.get_span_context())
        return self._tracer.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    @contextmanager
    def start_as_current_span(  # type: ignore[override]  # the API's own decorator is private
        self,
        name: str,
        context: Any = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class ChildSpansProvider(trace.TracerProvider):
    """Hands out :class:`ChildSpansTracer` s, for instrumentations that take a provider."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._provider = provider

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        return ChildSpansTracer(
            self._provider.get_tracer(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )
        )


# --- SQLAlchemy ---------------------------------------------------------------------------


class DatabaseSpans:
    """CLIENT spans for the statements an engine executes."""

    def __init__(self, tracer: trace.Tracer, engine: Engine) -> None:
        self.tracer = tracer
        url = engine.url
        self.system = _DB_SYSTEMS.get(engine.dialect.name, engine.dialect.name)
        self.namespace = url.database or None
        base: dict[str, Any] = {"db.system.name": self.system}
        if self.namespace:
            base["db.namespace"] = self.namespace
        if url.host:
            base["server.address"] = url.host
        if url.port:
            base["server.port"] = url.port
        self.base = base
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._error)

    def _before(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if context is None or not trace.get_current_span().is_recording():
            return
        words = statement.split(None, 1)
        operation = words[0].upper() if words else ""
        attributes = dict(self.base)
        attributes["db.query.text"] = statement
        if operation:
            attributes["db.operation.name"] = operation
        name = " ".join(p for p in (operation, self.namespace) if p) or self.system
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        setattr(context, _SPAN_ATTR, span)

    def _after(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        span = getattr(context, _SPAN_ATTR, None)
        if span is not None:
            setattr(context, _SPAN_ATTR, None)
            span.end()

    def _error(self, exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, _SPAN_ATTR, None)
        if span is None:
            return
        setattr(context, _SPAN_ATTR, None)
        error = exception_context.original_exception
        span.set_attribute("error.type", type(error).__qualname__)
        span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        span.end()


# --- provider HTTP clients ----------------------------------------------------------------


class HttpClientSpans:
    """One CLIENT span per request of an ``httpx2.AsyncClient``, via its event hooks."""

    def __init__(self, tracer: trace.Tracer, client: httpx2.AsyncClient) -> None:
        self.tracer = tracer
        hooks = client.event_hooks
        hooks["request"] = [*hooks.get("request", []), self._request]
        hooks["response"] = [*hooks.get("response", []), self._response]
        client.event_hooks = hooks

    async def _request(self, request: httpx2.Request) -> None:
        if not trace.get_current_span().is_recording():
            return
        url = request.url
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "server.address": url.host,
            "url.full": str(url.copy_with(query=None)),
        }
        if url.port:
            attributes["server.port"] = url.port
        span = self.tracer.start_span(request.method, kind=SpanKind.CLIENT, attributes=attributes)
        request.extensions[_HTTP_SPAN] = span
        inject(request.headers, context=trace.set_span_in_context(span))

    async def _response(self, response: httpx2.Response) -> None:
        span = response.request.extensions.pop(_HTTP_SPAN, None)
        if span is None:
            return
        status = response.status_code
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()


# --- helpers the pools' ``instrument`` methods call ----------------------------------------


def pool_tracer(provider: trace.TracerProvider) -> trace.Tracer:
    """The tracer of the pools' child spans."""
    from fastapi_sentient._version import __version__

    return ChildSpansTracer(provider.get_tracer("fastapi_sentient.pools", __version__))


def instrument_redis(client: Any, provider: trace.TracerProvider) -> bool:
    """Trace ``client``'s commands; False when the Redis instrumentation is not installed."""
    try:
        from opentelemetry.instrumentation.redis import RedisInstrumentor
    except ImportError:
        logger.info(
            "Redis commands are not traced: install opentelemetry-instrumentation-redis "
            "(pip install 'fastapi-sentient[tracing]')"
        )
        return False
    RedisInstrumentor.instrument_client(client, tracer_provider=ChildSpansProvider(provider))
    return True
