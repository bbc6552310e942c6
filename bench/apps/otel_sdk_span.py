"""Reference floor: one bare OpenTelemetry SDK span per request, nothing else.

A pure-ASGI middleware around bare FastAPI that starts a SERVER span from the
SDK's tracer provider (parent-based always-on sampling, no span processor),
makes it current for the request and ends it.  No attributes, no metrics, no
export: what the SDK itself charges for a span, the least any tracing that
uses it can cost.
"""

from __future__ import annotations

from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.apps.common import add_span_probe, create_app

tracer = TracerProvider().get_tracer("bench.floor")


class SdkSpan:
    """Start, attach, end: one span per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span = tracer.start_span(scope["method"], kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
            span.end()


app = create_app()
add_span_probe(app)
app.add_middleware(SdkSpan)
