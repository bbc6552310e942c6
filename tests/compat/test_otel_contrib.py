"""OpenTelemetry contrib internals read by fastapi_sentient._compat.otel_contrib, on real instrumentations."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fastapi_sentient._compat import otel_contrib


async def _plain(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _one_request(app: Any) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/x",
        "raw_path": b"/x",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    await app(scope, receive, send)


def test_stable_http_schema_url() -> None:
    """The schema URL names an OpenTelemetry semantic-conventions version."""
    assert otel_contrib.stable_http_schema_url().startswith("https://opentelemetry.io/schemas/1.")


async def test_a_middleware_switched_to_the_stable_conventions_emits_them() -> None:
    """After ``use_stable_http`` the ASGI middleware's server span carries ``http.request.method``."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    middleware = OpenTelemetryMiddleware(
        _plain, tracer_provider=provider, exclude_spans=["send", "receive"]
    )
    otel_contrib.use_stable_http(middleware)
    await _one_request(middleware)
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes.get("http.request.method") == "GET"
    assert span.attributes.get("http.response.status_code") == 204


def test_the_instrumentors_mark_is_read() -> None:
    """``FastAPIInstrumentor.instrument_app`` marks the app; ``uninstrument_app`` unmarks it."""
    app = FastAPI()
    assert otel_contrib.instrumented_by_fastapi_instrumentor(app) is False
    FastAPIInstrumentor.instrument_app(app, tracer_provider=TracerProvider())
    try:
        assert otel_contrib.instrumented_by_fastapi_instrumentor(app) is True
    finally:
        FastAPIInstrumentor.uninstrument_app(app)
    assert otel_contrib.instrumented_by_fastapi_instrumentor(app) is False
