"""The server span: one per HTTP request, named by the full route template.

OpenTelemetry's ASGI instrumentation adds more CPU per request than a bare
FastAPI request spends in total: it opens spans for every ``send``/``receive``
message, scans the headers once per attribute it extracts, sets every
attribute twice and records metrics nobody reads when Prometheus is the
metrics path.  This middleware keeps
only what a trace needs — the parent context, the stable HTTP semantic
convention attributes and the span itself — and it names the span from the
same route resolver as the metrics (``GET /api/v1/items/{item_id}`` under
nested prefixed routers and mounts), which the contrib instrumentation gets
wrong once FastAPI keeps included routers as tree nodes.

The span ends at the last response body chunk, like the duration metric, so a
background task does not stretch it.  Probes and ``/metrics`` never get here:
the tracking middleware outside answers them first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from opentelemetry import context, trace
from opentelemetry.propagate import get_global_textmap
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_sentient._route_label import STANDARD_METHODS, RouteIndex, route_template
from fastapi_sentient.tracing._provider import SentientTracerProvider
from fastapi_sentient.tracing._spans import CURRENT, SpanHelpers

#: Where the tracking middleware finds the sampled server span's context (exemplars).
SPAN_CONTEXT_KEY = "sentient.span_context"

_SENSITIVE_QUERY = ("token", "key", "secret", "password", "signature", "sig", "credential")
_ERROR = Status(StatusCode.ERROR)


def redact_query(query: str) -> str:
    """The query string with values of secret-looking parameters replaced by ``REDACTED``."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [
            (key, "REDACTED" if any(s in key.lower() for s in _SENSITIVE_QUERY) else value)
            for key, value in pairs
        ]
    )


class ServerSpanMiddleware:
    """Starts, names and ends the SERVER span of each HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        tracer: trace.Tracer,
        *,
        mounts: Callable[[], RouteIndex],
        excluded: Callable[[str], bool] | None = None,
        provider: SentientTracerProvider | None = None,
        helpers: SpanHelpers | None = None,
    ) -> None:
        self.app = app
        self.tracer = tracer
        # This app's add_event/llm_span, current for each request it serves.
        self.helpers = helpers
        # Our own provider offers request spans while nothing needs the SDK's.
        self.provider = provider
        self.mounts = mounts
        self.excluded = excluded
        self.propagator = get_global_textmap()
        # Most requests carry no parent: the one header scan that finds the user
        # agent also tells whether the propagator has anything to read.
        self.fields = frozenset(f.lower().encode("latin-1") for f in self.propagator.fields)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        helpers = CURRENT.set(self.helpers)
        try:
            if scope["type"] != "http" or (
                self.excluded is not None and self.excluded(scope["path"])
            ):
                await self.app(scope, receive, send)
            else:
                await self._traced(scope, receive, send)
        finally:
            CURRENT.reset(helpers)

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: C901  per-request hot path, inlined

        carrier: dict[str, str] | None = None
        user_agent: str | None = None
        fields = self.fields
        for key, value in scope["headers"]:
            if key in fields:
                if carrier is None:
                    carrier = {}
                carrier[key.decode("latin-1")] = value.decode("latin-1")
            elif key == b"user-agent":
                user_agent = value.decode("latin-1")
        parent = self.propagator.extract(carrier) if carrier else None

        method = scope["method"]
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.scheme": scope.get("scheme", "http"),
            "url.path": scope["path"],
            "network.protocol.version": scope.get("http_version", "1.1"),
        }
        if method in STANDARD_METHODS:
            name = method
        else:
            name = "HTTP"
            attributes["http.request.method"] = "_OTHER"
            attributes["http.request.method_original"] = method
        query = scope.get("query_string")
        if query:
            attributes["url.query"] = redact_query(query.decode("latin-1"))
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        if user_agent:
            attributes["user_agent.original"] = user_agent

        request_spans = self.provider.request_spans if self.provider is not None else None
        if request_spans is not None:
            span = request_spans.start(name, parent, SpanKind.SERVER, attributes)
        else:
            span = self.tracer.start_span(name, parent, SpanKind.SERVER, attributes)
        # A FastAPI app mounted inside would otherwise open a second server span of
        # its own (a FastAPI that traces natively does so once a global provider exists).
        scope.setdefault("fastapi.telemetry", None)
        token = context.attach(trace.set_span_in_context(span, parent))
        span_context = span.get_span_context()
        if span_context.trace_flags.sampled:
            scope[SPAN_CONTEXT_KEY] = span_context
        entry_root_path = scope.get("root_path", "")
        status = 0
        ended = False

        def end(error: BaseException | None = None) -> None:
            nonlocal ended
            ended = True
            if not span.is_recording():
                return
            late: dict[str, Any] = {}
            route = route_template(scope, entry_root_path, self.mounts())
            if route is not None:
                span.update_name(f"{name} {route}")
                late["http.route"] = route
            if status:
                late["http.response.status_code"] = status
            if error is not None:
                late["error.type"] = type(error).__qualname__
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
            elif status >= 500:
                late["error.type"] = str(status)
                span.set_status(_ERROR)
            span.set_attributes(late)
            span.end()

        async def traced_send(message: Message) -> None:
            nonlocal status
            message_type = message["type"]
            if message_type == "http.response.start":
                status = message["status"]
            elif message_type == "http.response.body" and not message.get("more_body", False):
                await send(message)
                # A 500 is usually Starlette answering for an exception that is
                # re-raised right after; end the span there, with its type.
                if not ended and status < 500:
                    end()
                return
            await send(message)

        try:
            await self.app(scope, receive, traced_send)
        except BaseException as exc:
            if not ended:
                end(exc)
            raise
        finally:
            context.detach(token)
            if not ended:
                end()
