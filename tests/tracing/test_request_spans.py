"""Request spans (our lightweight server spans) export what the SDK's spans export.

The same requests are served twice: once with the provider as we build it,
where server spans are :class:`RequestSpan` s, and once with a span processor
of the user's own added, which keeps every span on the SDK's path.  Both runs
export over real OTLP/HTTP to a loopback receiver; the decoded protobuf spans
must match field by field, ids and timestamps aside.
"""

from __future__ import annotations

from typing import Any

import httpx2
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Request
from opentelemetry import trace
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.trace import SpanProcessor

from fastapi_sentient import include_plugin
from fastapi_sentient.tracing import add_event, llm_span
from fastapi_sentient.tracing._request_span import RequestSpan
from tests.support.asgi import running, sample
from tests.tracing.conftest import tracing_settings
from tests.tracing.otlp import OtlpReceiver, ReceivedSpan

TRACE_ID, PARENT_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def compared_app() -> FastAPI:
    """Routes that exercise every part of a server span, and a user's child spans."""
    app = FastAPI()
    items = APIRouter(prefix="/items")

    @items.get("/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @items.get("/{item_id}/boom")
    async def boom(item_id: int) -> None:
        msg = f"item {item_id} exploded"
        raise RuntimeError(msg)

    @items.get("/{item_id}/work")
    async def work(item_id: int, request: Request) -> dict[str, Any]:
        current = trace.get_current_span()
        seen = {"request_span": isinstance(current, RequestSpan)}
        current.set_attribute("app.item", item_id)
        current.set_attribute("app.tags", ["a", "b"])
        current.set_attribute("app.ratio", 0.5)
        current.set_attribute("app.item", item_id + 1)  # set again: moves to the end
        current.add_event("app.loaded", {"rows": 3, "cached": True})
        tracer = request.app.state.sentient.tracing.provider.get_tracer("tests.user")
        with tracer.start_as_current_span("user.child", attributes={"step": 1}) as child:
            child.add_event("user.step")
            with tracer.start_as_current_span("user.grandchild"):
                pass
        return seen

    v1 = APIRouter(prefix="/v1")
    v1.include_router(items)
    app.include_router(v1, prefix="/api")
    return app


async def serve(app: FastAPI) -> list[dict[str, Any]]:
    """The same requests, in the same order; the route's answers."""
    answers = []
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx2.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"user-agent": "compare/1"}
            assert (await client.get("/api/v1/items/1?token=x&page=2", headers=headers)).is_success
            assert (await client.get("/api/v1/items/2/boom")).status_code == 500
            assert (await client.get("/nowhere/3")).status_code == 404
            continued = {
                "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
                "tracestate": "vendor=v1,other=x",
            }
            assert (await client.get("/api/v1/items/4", headers=continued)).is_success
            unsampled = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"}
            assert (await client.get("/api/v1/items/5", headers=unsampled)).is_success
            response = await client.post("/api/v1/items/6")
            assert response.status_code == 405
            response = await client.get("/api/v1/items/7/work")
            assert response.is_success
            answers.append(response.json())
    return answers


def requested(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """The spans of requests, without the leadership events of startup."""
    return [s for s in spans if not s.name.startswith("cluster.")]


def key(span: ReceivedSpan) -> tuple[str, str]:
    return span.name, str(span.attributes.get("url.path", ""))


def normalized(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> dict[str, Any]:
    """Everything exported but the ids and timestamps, with the parent by name."""
    raw = ProtoSpan()
    raw.CopyFrom(span.raw)
    assert raw.start_time_unix_nano > 0
    assert raw.end_time_unix_nano >= raw.start_time_unix_nano
    for field in ("trace_id", "span_id", "parent_span_id"):
        raw.ClearField(field)
    raw.start_time_unix_nano = raw.end_time_unix_nano = 0
    for event in raw.events:
        assert event.time_unix_nano > 0
        event.time_unix_nano = 0
        for pair in event.attributes:
            if pair.key == "exception.stacktrace":
                # the frames are the same code; keep the line naming the error
                text = pair.value.string_value
                pair.value.string_value = text.strip().splitlines()[-1]
    parent = by_id.get(span.parent_span_id)
    return {
        "span": raw,
        "parent": parent.name if parent else span.parent_span_id,
        "same_trace_as_parent": parent is None or parent.trace_id == span.trace_id,
        "resource": span.resource,
        "scope": span.scope,
    }


def exported(receiver: OtlpReceiver) -> dict[tuple[str, str], dict[str, Any]]:
    spans = receiver.take()
    by_id = {s.span_id: s for s in spans}
    keyed = {key(s): normalized(s, by_id) for s in spans}
    assert len(keyed) == len(spans), [key(s) for s in spans]
    return keyed


async def test_request_spans_export_exactly_what_sdk_spans_export(
    receiver: OtlpReceiver,
) -> None:
    """Names, kinds, attributes, status, events, parents, resource and scope are the same."""
    light = compared_app()
    include_plugin(light, tracing_settings(service_name="compare"))
    assert await serve(light) == [{"request_span": True}]
    ours = exported(receiver)

    sdk = compared_app()
    sentient = include_plugin(sdk, tracing_settings(service_name="compare"))
    assert sentient.tracing is not None
    sentient.tracing.provider.add_span_processor(SpanProcessor())  # the user's own processor
    assert await serve(sdk) == [{"request_span": False}]
    theirs = exported(receiver)

    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        assert ours[name] == theirs[name], name
    # the requests this comparison is meant to cover were all exported
    assert ("GET /api/v1/items/{item_id}/boom", "/api/v1/items/2/boom") in ours
    assert ("GET", "/nowhere/3") in ours
    assert ("POST /api/v1/items/{item_id}", "/api/v1/items/6") in ours
    assert ours[("user.grandchild", "")]["parent"] == "user.child"
    assert ours[("user.child", "")]["parent"] == "GET /api/v1/items/{item_id}/work"
    assert not [k for k in ours if k[1] == "/api/v1/items/5"], "an unsampled parent decides"
    continued = ours[("GET /api/v1/items/{item_id}", "/api/v1/items/4")]
    assert continued["parent"] == PARENT_ID
    assert continued["span"].trace_state == "vendor=v1,other=x"


async def test_children_of_a_request_span_share_its_trace(receiver: OtlpReceiver) -> None:
    """A user's span inside a route is a child of the request span, in its trace."""
    app = compared_app()
    include_plugin(app, tracing_settings())
    async with running(app) as client:
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        response = await client.get("/api/v1/items/1/work", headers=headers)
        assert response.json() == {"request_span": True}
    spans = receiver.wait_for(lambda s: len(requested(s)) == 3 and requested(s))
    server = next(s for s in spans if s.kind == "SERVER")
    child = next(s for s in spans if s.name == "user.child")
    grandchild = next(s for s in spans if s.name == "user.grandchild")
    assert server.trace_id == child.trace_id == grandchild.trace_id == TRACE_ID
    assert server.parent_span_id == PARENT_ID
    assert child.parent_span_id == server.span_id
    assert grandchild.parent_span_id == child.span_id


async def test_shutdown_flush_exports_every_queued_span(
    receiver: OtlpReceiver, monkeypatch: Any
) -> None:
    """With a long batch delay and a batch larger than the load, only the flush exports."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4096")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096")
    app = compared_app()
    include_plugin(app, tracing_settings())
    async with running(app) as client:
        for item in range(300):
            assert (await client.get(f"/api/v1/items/{item}")).is_success
        assert receiver.snapshot() == []
    paths = {s.attributes["url.path"] for s in requested(receiver.snapshot())}
    assert paths == {f"/api/v1/items/{item}" for item in range(300)}


async def test_a_full_queue_drops_spans_and_counts_them(
    receiver: OtlpReceiver, monkeypatch: Any
) -> None:
    """While the collector does not answer, spans beyond the queue's bound are counted."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
    app = compared_app()
    sentient = include_plugin(app, tracing_settings())
    requests = 30
    receiver.answering.clear()
    try:
        async with running(app) as client:
            for item in range(requests):
                assert (await client.get(f"/api/v1/items/{item}")).is_success
            text = (await client.get("/metrics")).text
            receiver.answering.set()
    finally:
        receiver.answering.set()
    dropped = sample(text, "tracing_spans_dropped_total")
    assert dropped is not None
    assert dropped >= 1
    exported = receiver.wait_for(lambda s: len(requested(s)) + dropped >= requests and s)
    assert len(requested(exported)) + dropped == requests
    # shutdown's own leadership-event span may have found the queue full too
    final = sentient.metrics.get("tracing_spans_dropped").collect()[0].samples[0].value
    assert final >= dropped


async def test_spans_arriving_during_an_export_wait_for_a_full_batch(
    receiver: OtlpReceiver, monkeypatch: Any
) -> None:
    """Before the delay elapses, only full batches are sent; the rest waits (here: for the flush)."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4")
    app = compared_app()
    include_plugin(app, tracing_settings())
    async with running(app) as client:
        for item in range(21):
            assert (await client.get(f"/api/v1/items/{item}")).is_success
        before = receiver.batch_sizes()
    assert all(size == 4 for size in before), before
    paths = {s.attributes["url.path"] for s in requested(receiver.snapshot())}
    assert paths == {f"/api/v1/items/{item}" for item in range(21)}


async def test_anything_that_needs_the_sdk_spans_gets_them(
    receiver: OtlpReceiver, monkeypatch: Any
) -> None:
    """A processor added after startup, another sampler or the contrib mode: SDK spans."""
    app = compared_app()
    sentient = include_plugin(app, tracing_settings())
    assert sentient.tracing is not None
    provider = sentient.tracing.provider
    async with running(app) as client:
        assert provider.request_spans is not None
        assert (await client.get("/api/v1/items/1/work")).json() == {"request_span": True}
        provider.add_span_processor(SpanProcessor())
        assert provider.request_spans is None
        assert (await client.get("/api/v1/items/2/work")).json() == {"request_span": False}

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    other = compared_app()
    include_plugin(other, tracing_settings())
    async with running(other) as client:
        assert (await client.get("/api/v1/items/3/work")).json() == {"request_span": False}
    monkeypatch.delenv("OTEL_TRACES_SAMPLER")

    contrib = compared_app()
    include_plugin(contrib, tracing_settings(tracing_instrumentation="opentelemetry"))
    async with running(contrib) as client:
        assert (await client.get("/api/v1/items/4/work")).json() == {"request_span": False}


async def test_helpers_use_the_tracer_of_the_app_serving_the_request(
    receiver: OtlpReceiver,
) -> None:
    """Two apps running at once: add_event and llm_span in a request land in that app's spans."""

    def helper_app(name: str) -> FastAPI:
        app = FastAPI()

        @app.get("/outside")
        async def outside() -> dict[str, bool]:
            # no recording span here: add_event makes a short span of the app's own
            with trace.use_span(trace.INVALID_SPAN):
                add_event("app.outside", {"app": name})
            return {"ok": True}

        @app.get("/llm")
        async def llm() -> dict[str, bool]:
            with llm_span("openai", f"model-{name}"):
                pass
            return {"ok": True}

        include_plugin(app, tracing_settings(service_name=name))
        return app

    first, second = helper_app("first"), helper_app("second")
    async with running(first) as one, running(second) as two:
        assert (await two.get("/outside")).is_success
        assert (await one.get("/llm")).is_success
        assert (await two.get("/llm")).is_success
    spans = receiver.wait_for(
        lambda s: len([x for x in s if x.name in ("app.outside", "chat model-first")]) >= 2 and s
    )
    (outside,) = [s for s in spans if s.name == "app.outside"]
    assert outside.resource["service.name"] == "second"
    by_model = {s.name: s.resource["service.name"] for s in spans if s.name.startswith("chat ")}
    assert by_model == {"chat model-first": "first", "chat model-second": "second"}
