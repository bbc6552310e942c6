"""Server spans, child spans and exemplars, exported over real OTLP/HTTP to a loopback receiver."""

from __future__ import annotations

import re

import httpx2
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.llm.fakes import FakeProvider
from tests.support.asgi import running
from tests.tracing.apps import build_app
from tests.tracing.conftest import (
    INSTRUMENTATIONS,
    OLD_HTTP_ATTRIBUTES,
    SERVER_SPAN_SCOPES,
    provider_entry,
    tracing_settings,
)
from tests.tracing.otlp import OtlpReceiver, ReceivedSpan

ROUTE = "/api/v1/items/{item_id}"
OPENMETRICS = {"accept": "application/openmetrics-text; version=1.0.0"}


def backend_app(machine_pg: str, fake: FakeProvider, **overrides: object) -> FastAPI:
    settings = tracing_settings(
        database_url=machine_pg, llm_providers=provider_entry(fake), **overrides
    )
    return build_app(settings)


def named(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name]


@pytest.mark.parametrize("instrumentation", INSTRUMENTATIONS)
async def test_nested_route_span_has_full_template_and_db_and_outbound_children(
    receiver: OtlpReceiver, provider_fake: FakeProvider, machine_pg: str, instrumentation: str
) -> None:
    """One SERVER span named by the full template, with DB and provider HTTP spans as children."""
    app = backend_app(machine_pg, provider_fake, tracing_instrumentation=instrumentation)
    async with running(app) as client:
        response = await client.get("/api/v1/items/7?token=hunter2&page=2")
        assert response.status_code == 200
        for probe in ("/live", "/ready", "/metrics", "/health"):
            assert (await client.get(probe)).status_code == 200
    spans = receiver.wait_for(lambda s: named(s, f"GET {ROUTE}"), what="the server span")
    server = spans[0]
    assert server.kind == "SERVER"
    assert server.scope == SERVER_SPAN_SCOPES[instrumentation]
    assert server.parent_span_id == ""
    attributes = server.attributes
    assert attributes["http.route"] == ROUTE
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/api/v1/items/7"
    assert attributes["url.scheme"] == "http"
    assert attributes["url.query"] == "token=REDACTED&page=2"
    assert "error.type" not in attributes
    assert not [key for key in OLD_HTTP_ATTRIBUTES if key in attributes]
    assert server.resource["service.name"] == "fastapi-sentient"

    everything = receiver.snapshot()
    in_trace = [s for s in everything if s.trace_id == server.trace_id and s is not server]
    db = [s for s in in_trace if s.attributes.get("db.system.name") == "postgresql"]
    assert db, [s.name for s in in_trace]
    assert all(s.kind == "CLIENT" and s.parent_span_id == server.span_id for s in db)
    select = next(s for s in db if s.attributes.get("db.operation.name") == "SELECT")
    assert select.attributes["db.namespace"] == "test"
    assert select.attributes["server.address"] == "127.0.0.1"
    assert "SELECT" in select.attributes["db.query.text"]
    outbound = [s for s in in_trace if s.attributes.get("url.full", "").endswith("/v1/models")]
    assert len(outbound) == 1
    assert outbound[0].kind == "CLIENT"
    assert outbound[0].parent_span_id == server.span_id
    assert outbound[0].attributes["http.response.status_code"] == 200
    assert outbound[0].attributes["server.address"] == "127.0.0.1"

    assert not [s for s in everything if s.name.endswith(("http send", "http receive"))]
    paths = {s.attributes.get("url.path") for s in everything if s.kind == "SERVER"}
    assert paths == {"/api/v1/items/7"}, "probes and /metrics must make no spans"
    orphans = [s for s in everything if s.kind == "CLIENT" and not s.parent_span_id]
    assert not orphans, "startup and health-check traffic must not start traces"


async def test_incoming_traceparent_is_continued(receiver: OtlpReceiver) -> None:
    """A W3C traceparent makes the server span a child in the caller's trace."""
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    app = build_app(tracing_settings(), backends=False)
    async with running(app) as client:
        headers = {"traceparent": f"00-{trace_id}-{parent_id}-01"}
        assert (await client.get("/api/v1/items/3", headers=headers)).status_code == 200
    (span,) = receiver.wait_for(lambda s: named(s, f"GET {ROUTE}"))
    assert span.trace_id == trace_id
    assert span.parent_span_id == parent_id


@pytest.mark.parametrize("instrumentation", INSTRUMENTATIONS)
async def test_failing_route_and_unmatched_path(
    receiver: OtlpReceiver, instrumentation: str
) -> None:
    """A 500 marks the span as an error with the exception; a 404 has no http.route."""
    app = build_app(tracing_settings(tracing_instrumentation=instrumentation), backends=False)
    async with LifespanManager(app) as manager:
        transport = httpx2.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/api/v1/items/3/boom")).status_code == 500
            assert (await client.get("/nowhere/42")).status_code == 404
    (failed,) = receiver.wait_for(lambda s: named(s, "GET /api/v1/items/{item_id}/boom"))
    assert failed.status_code == 2  # STATUS_CODE_ERROR
    assert failed.attributes["http.response.status_code"] == 500
    assert failed.attributes["error.type"] == "RuntimeError"
    assert [name for name, _ in failed.events] == ["exception"]
    (unmatched,) = receiver.wait_for(lambda s: named(s, "GET"))
    assert "http.route" not in unmatched.attributes
    assert unmatched.attributes["http.response.status_code"] == 404
    assert unmatched.status_code == 0


@pytest.mark.parametrize("instrumentation", INSTRUMENTATIONS)
async def test_openmetrics_exemplars_carry_exported_trace_ids(
    receiver: OtlpReceiver, instrumentation: str
) -> None:
    """Duration buckets carry trace_id exemplars, and those traces were exported."""
    app = build_app(tracing_settings(tracing_instrumentation=instrumentation), backends=False)
    async with running(app) as client:
        for item in range(5):
            assert (await client.get(f"/api/v1/items/{item}")).status_code == 200
        text = (await client.get("/metrics", headers=OPENMETRICS)).text
    exemplars = set(
        re.findall(
            r'^http_request_duration_seconds_bucket\{[^}]*route="/api/v1/items/\{item_id\}"[^}]*\} '
            r'\S+ # \{span_id="[0-9a-f]{16}",trace_id="([0-9a-f]{32})"\}',
            text,
            re.MULTILINE,
        )
    )
    assert exemplars, text
    exported = receiver.wait_for(
        lambda s: (
            {x.trace_id for x in named(s, f"GET {ROUTE}")} >= exemplars
            and {x.trace_id for x in named(s, f"GET {ROUTE}")}
        )
    )
    assert exemplars <= exported


async def test_unsampled_requests_make_no_spans_and_no_exemplars(receiver: OtlpReceiver) -> None:
    """At ratio 0 requests are served, nothing is exported and durations have no exemplar."""
    app = build_app(tracing_settings(tracing_sample_ratio=0.0), backends=False)
    async with running(app) as client:
        assert (await client.get("/api/v1/items/1")).status_code == 200
        text = (await client.get("/metrics", headers=OPENMETRICS)).text
    assert 'route="/api/v1/items/{item_id}"' in text
    assert "trace_id=" not in text
    assert receiver.snapshot() == []


@pytest.mark.parametrize("instrumentation", INSTRUMENTATIONS)
async def test_excluded_urls_variable_skips_spans(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, instrumentation: str
) -> None:
    """OTEL_PYTHON_EXCLUDED_URLS paths are served without a span (and without an exemplar)."""
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", r"items/\d+/boom,items/2$")
    app = build_app(tracing_settings(tracing_instrumentation=instrumentation), backends=False)
    async with running(app) as client:
        assert (await client.get("/api/v1/items/2")).status_code == 200
        assert (await client.get("/api/v1/items/3")).status_code == 200
    (span,) = receiver.wait_for(lambda s: named(s, f"GET {ROUTE}"))
    assert span.attributes["url.path"] == "/api/v1/items/3"
