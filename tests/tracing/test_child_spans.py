"""LLM, Redis and state-change spans, exported to the loopback OTLP receiver."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from fastapi_sentient import SentientDep, include_plugin
from fastapi_sentient.tracing import add_event, llm_span
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running
from tests.support.redis_server import RedisServer
from tests.tracing.apps import build_app
from tests.tracing.conftest import provider_entry, tracing_settings
from tests.tracing.otlp import OtlpReceiver


def llm_route_app(fake: FakeProvider) -> FastAPI:
    app = FastAPI()

    @app.post("/agents/{agent}/ask")
    async def ask(agent: str, sentient: SentientDep) -> dict[str, Any]:
        result = await sentient.llm.generate(
            "openai", model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
        return {"text": result.text}

    include_plugin(app, tracing_settings(llm_providers=provider_entry(fake)))
    return app


async def test_llm_call_span_has_gen_ai_attributes_and_http_child(
    receiver: OtlpReceiver, provider_fake: FakeProvider
) -> None:
    """Server span → "chat gpt-test" GenAI span → the provider POST, in one trace."""
    provider_fake.reset()
    provider_fake.cache_read, provider_fake.reasoning = 6, 2
    app = llm_route_app(provider_fake)
    async with running(app) as client:
        assert (await client.post("/agents/a1/ask")).status_code == 200
    spans = receiver.wait_for(
        lambda s: [x for x in s if x.name == "POST /agents/{agent}/ask"] and s, what="spans"
    )
    server = next(s for s in spans if s.name == "POST /agents/{agent}/ask")
    llm = next(s for s in spans if s.name == "chat gpt-test")
    assert llm.kind == "CLIENT"
    assert llm.parent_span_id == server.span_id
    assert llm.trace_id == server.trace_id
    assert llm.attributes["gen_ai.operation.name"] == "chat"
    assert llm.attributes["gen_ai.provider.name"] == "openai"
    assert llm.attributes["gen_ai.request.model"] == "gpt-test"
    assert llm.attributes["gen_ai.usage.input_tokens"] == 11
    assert llm.attributes["gen_ai.usage.output_tokens"] == 3
    assert llm.attributes["gen_ai.usage.cache_read.input_tokens"] == 6
    assert llm.attributes["gen_ai.usage.reasoning.output_tokens"] == 2
    assert "gen_ai.usage.cache_creation.input_tokens" not in llm.attributes  # none written
    assert llm.attributes["server.address"] == "127.0.0.1"
    post = [s for s in spans if s.name == "POST" and s.parent_span_id == llm.span_id]
    assert len(post) == 1
    assert post[0].attributes["url.full"].endswith("/v1/chat/completions")
    traceparent = provider_fake.headers[-1].get("traceparent", "")
    assert traceparent.split("-")[1:3] == [post[0].trace_id, post[0].span_id]


async def test_streamed_llm_call_span_covers_the_stream(
    receiver: OtlpReceiver, provider_fake: FakeProvider
) -> None:
    """A streamed answer gets one GenAI span, parent of the POST, ended with the usage."""
    provider_fake.reset()
    app = FastAPI()

    @app.get("/agents/{agent}/stream")
    async def stream(agent: str, sentient: SentientDep) -> dict[str, Any]:
        chunks = sentient.llm.stream(
            "openai", model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
        return {"text": "".join([chunk async for chunk in chunks])}

    include_plugin(app, tracing_settings(llm_providers=provider_entry(provider_fake)))
    async with running(app) as client:
        response = await client.get("/agents/a1/stream")
    assert response.json() == {"text": "".join(provider_fake.chunks)}
    spans = receiver.wait_for(
        lambda s: [x for x in s if x.name == "GET /agents/{agent}/stream"] and s
    )
    server = next(s for s in spans if s.name == "GET /agents/{agent}/stream")
    llm = next(s for s in spans if s.name == "chat gpt-test")
    assert llm.parent_span_id == server.span_id
    assert llm.attributes["gen_ai.request.stream"] is True
    assert llm.attributes["gen_ai.usage.output_tokens"] == 3
    (post,) = [s for s in spans if s.name == "POST"]
    assert post.parent_span_id == llm.span_id


async def test_redis_commands_are_children_of_the_request(
    receiver: OtlpReceiver, redis_proc: RedisServer
) -> None:
    """Commands through RedisClient become CLIENT spans under the server span."""
    app = build_app(tracing_settings(redis_url=redis_proc.url))
    async with running(app) as client:
        response = await client.get("/api/v1/items/9/cached")
        assert response.json() == {"cached": "1"}
    spans = receiver.wait_for(
        lambda s: [x for x in s if x.name == "GET /api/v1/items/{item_id}/cached"] and s
    )
    server = next(s for s in spans if s.name == "GET /api/v1/items/{item_id}/cached")
    commands = [s for s in spans if s.parent_span_id == server.span_id]
    assert sorted(s.name for s in commands) == ["GET", "SET"]
    assert all(s.kind == "CLIENT" and s.attributes["db.system"] == "redis" for s in commands)
    assert not [s for s in spans if s.kind == "CLIENT" and not s.parent_span_id]


async def test_leader_election_and_breaker_transitions_become_span_events(
    receiver: OtlpReceiver, provider_fake: FakeProvider
) -> None:
    """Background transitions get a short span carrying the event; in-request ones annotate it."""
    app = llm_route_app(provider_fake)
    sentient = app.state.sentient
    async with running(app) as client:
        assert (await client.post("/agents/a1/ask")).status_code == 200
        breaker = next(b for b in sentient.llm.breakers() if "gpt-test" in b.name)
        breaker.force_open(30.0)
    spans = receiver.wait_for(
        lambda s: [x for x in s if x.name == "circuit_breaker.state_change"] and s
    )
    elected = next(s for s in spans if s.name == "cluster.elected")
    assert elected.events == [("cluster.elected", elected.attributes)]
    assert elected.attributes["cluster.epoch"] == 1
    opened = next(s for s in spans if s.name == "circuit_breaker.state_change")
    (event,) = opened.events
    assert event[1]["to"] == "open"
    assert event[1]["from"] == "closed"


async def test_helpers_are_no_ops_without_tracing() -> None:
    """llm_span and add_event work (and do nothing) when no app has tracing on."""
    with llm_span("openai", "gpt-test") as span:
        span.record_response(model="gpt-test", input_tokens=1, output_tokens=2)
        span.add_event("retry")
    assert span.span is None
    add_event("cluster.elected", {"cluster.epoch": 1})
