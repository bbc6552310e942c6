"""Server spans from OpenTelemetry's FastAPI instrumentation, for ``SENTIENT_TRACING_INSTRUMENTATION=opentelemetry``.

The middleware is the one ``FastAPIInstrumentor`` installs — ``OpenTelemetryMiddleware``
from ``opentelemetry-instrumentation-asgi``, under the FastAPI instrumentation's
tracer name — but placed where ours goes, inside the tracking middleware, so
probes and ``/metrics`` never reach it.  It is tuned as the tracing
requirements ask: no per-message ``http send``/``http receive`` spans, the
stable HTTP semantic conventions (as ``OTEL_SEMCONV_STABILITY_OPT_IN=http``
would select; an operator's ``http/dup`` is kept), and no OpenTelemetry HTTP
metrics (Prometheus has them).

A few corrections are ours:

- the span name and ``http.route`` come from the route resolver shared with the
  metrics, set when the response starts: the instrumentation ends the span with
  the last body chunk, and its FastAPI naming re-matches ``app.routes`` on every
  request and names a mounted app's routes by the mount prefix;
- ``url.query`` values of secret-looking parameters are redacted, as with our
  middleware, and ``server.address`` loses the ``:port`` the instrumentation
  appends to it;
- the exception behind a 500 is recorded on the span: Starlette answers it
  before re-raising, so the span has ended by the time the exception reaches
  the instrumentation.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi.version import __version__ as fastapi_version
from opentelemetry.metrics import NoOpMeter
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.http import ExcludeList
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_sentient._compat import otel_contrib
from fastapi_sentient._route_label import STANDARD_METHODS, RouteIndex, route_template
from fastapi_sentient.tracing._middleware import SPAN_CONTEXT_KEY, redact_query
from fastapi_sentient.tracing._spans import CURRENT, SpanHelpers

_SCOPE_NAME = "opentelemetry.instrumentation.fastapi"
_SERVER_SPAN = "sentient.server_span"


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    # The route is not known before the app has routed; the name is completed later.
    method = scope.get("method", "")
    return (method if method in STANDARD_METHODS else "HTTP"), {}


def _request_hook(span: trace.Span, scope: dict[str, Any]) -> None:
    scope[_SERVER_SPAN] = span
    if not span.is_recording():
        return
    span_context = span.get_span_context()
    if span_context.trace_flags.sampled:
        scope[SPAN_CONTEXT_KEY] = span_context
    server = scope.get("server")
    if server:  # the instrumentation writes "host:port" here; the port has its own attribute
        span.set_attribute("server.address", server[0])
    query = scope.get("query_string")
    if query:
        span.set_attribute("url.query", redact_query(query.decode("latin-1")))


def excluded_urls(own_paths: Iterable[str], patterns: str | None) -> ExcludeList:
    """Our endpoints (matched exactly) plus the operator's ``OTEL_PYTHON_*_EXCLUDED_URLS``."""
    ours = [rf"^[^:/]+://[^/]*{re.escape(path)}$" for path in sorted(own_paths)]
    theirs = [p.strip() for p in (patterns or "").split(",") if p.strip()]
    return ExcludeList([*ours, *theirs])


class ContribServerSpanMiddleware:
    """``OpenTelemetryMiddleware`` with our span name, ``http.route`` and query redaction."""

    def __init__(
        self,
        app: ASGIApp,
        provider: trace.TracerProvider,
        *,
        mounts: Callable[[], RouteIndex],
        excluded: ExcludeList,
        helpers: SpanHelpers | None = None,
    ) -> None:
        self.app = app
        self.mounts = mounts
        self.helpers = helpers  # this app's add_event/llm_span, current in its requests
        otel = OpenTelemetryMiddleware(
            app,
            excluded_urls=excluded,
            default_span_details=_span_details,
            server_request_hook=_request_hook,
            tracer=provider.get_tracer(
                _SCOPE_NAME, fastapi_version, schema_url=otel_contrib.stable_http_schema_url()
            ),
            meter=NoOpMeter(_SCOPE_NAME),
            exclude_spans=["send", "receive"],
        )
        # The instrumentation reads OTEL_SEMCONV_STABILITY_OPT_IN once per process;
        # select the stable conventions for this middleware without changing
        # what the process's other instrumentations emit.
        otel_contrib.use_stable_http(otel)
        self.otel = otel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        helpers = CURRENT.set(self.helpers)
        try:
            if scope["type"] != "http":  # WebSockets get no span, as with our middleware
                await self.app(scope, receive, send)
            else:
                await self._traced(scope, receive, send)
        finally:
            CURRENT.reset(helpers)

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A FastAPI app mounted inside would open a second server span of its own.
        scope.setdefault("fastapi.telemetry", None)
        entry_root_path = scope.get("root_path", "")

        async def named_send(message: Message) -> None:
            # Called from the instrumentation's send, before it ends the span.
            if message["type"] == "http.response.start":
                span = scope.get(_SERVER_SPAN)
                if span is not None and span.is_recording():
                    self._complete(span, scope, entry_root_path, message["status"])
            await send(message)

        await self.otel(scope, receive, named_send)

    def _complete(self, span: Any, scope: Scope, entry_root_path: str, status: int) -> None:
        route = route_template(scope, entry_root_path, self.mounts())
        if route is not None:
            span.update_name(f"{_span_details(scope)[0]} {route}")
            span.set_attribute("http.route", route)
        error = sys.exc_info()[1] if status >= 500 else None
        if error is not None:
            # Starlette's ServerErrorMiddleware sends this 500 from inside its
            # ``except`` block: the exception being handled is the cause.
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
