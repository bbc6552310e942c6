"""Streams of the real openai and anthropic SDKs through sentient.llm.sdk.stream, against the fakes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest

from fastapi_sentient import Sentient, SentientDep, include_plugin
from fastapi_sentient.llm import CircuitOpenError, ProviderError, Usage
from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running, sample
from tests.tracing.conftest import tracing_settings
from tests.tracing.otlp import OtlpReceiver

MESSAGES = [{"role": "user", "content": "hi"}]


def exposition(sentient: Sentient) -> str:
    return generate_latest(sentient.metrics.registry).decode()


def openai_factory(sentient: Sentient, helper: bool = False) -> Callable[[], Any]:
    """A streamed chat completion: ``create(stream=True)`` or the ``stream()`` helper."""
    client = sentient.llm.sdk.openai("openai")
    if helper:
        return lambda: client.chat.completions.stream(model="gpt-test", messages=MESSAGES)
    return lambda: client.chat.completions.create(
        model="gpt-test", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )


def anthropic_factory(sentient: Sentient, helper: bool = False) -> Callable[[], Any]:
    """A streamed message: the ``messages.stream()`` helper or ``create(stream=True)``."""
    client = sentient.llm.sdk.anthropic("anthropic")
    if helper:
        return lambda: client.messages.stream(model="claude-test", max_tokens=5, messages=MESSAGES)
    return lambda: client.messages.create(
        model="claude-test", max_tokens=5, messages=MESSAGES, stream=True
    )


@pytest.mark.parametrize("helper", [False, True], ids=["create", "stream-helper"])
async def test_openai_sdk_streams_are_counted_exactly(
    openai_fake: FakeProvider, helper: bool
) -> None:
    """Five SDK streams of usage {11 in, 3 out}: the SDK's chunks unchanged, 5 successes, 55/15 tokens."""
    app, sentient = llm_app(providers(openai_fake))
    async with running(app):
        factory = openai_factory(sentient, helper)
        for _ in range(5):
            stream = sentient.llm.sdk.stream("openai", "gpt-test", factory)
            events = [event async for event in stream]
        out = exposition(sentient)
    chunks = [e.chunk for e in events if e.type == "chunk"] if helper else events
    assert type(chunks[0]).__name__ == "ChatCompletionChunk"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello, world"
    assert stream.result is not None
    assert stream.result.usage == Usage(11, 3)
    assert stream.result.text == "Hello, world"
    assert (stream.result.provider, stream.result.model) == ("openai", "gpt-test")
    assert openai_fake.posts == 5
    assert sample(out, "llm_requests_total", provider="openai", status="success") == 5
    assert sample(out, "llm_tokens_consumed_total", provider="openai", type="input") == 55
    assert sample(out, "llm_tokens_consumed_total", provider="openai", type="output") == 15
    assert sample(out, "gen_ai_client_token_usage_sum", gen_ai_token_type="input") == 55
    assert sample(out, "gen_ai_client_token_usage_sum", gen_ai_token_type="output") == 15
    assert sample(out, "llm_time_to_first_token_seconds_count", provider="openai") == 5


@pytest.mark.parametrize("helper", [True, False], ids=["stream-helper", "create"])
async def test_anthropic_sdk_streams_are_counted_exactly(
    anthropic_fake: FakeProvider, helper: bool
) -> None:
    """Usage split over message_start and message_delta adds up to {11 in, 3 out}; text_stream gives the text."""
    app, sentient = llm_app(providers(anthropic=anthropic_fake))
    async with running(app):
        factory = anthropic_factory(sentient, helper)
        async with sentient.llm.sdk.stream("anthropic", "claude-test", factory) as stream:
            text = "".join([piece async for piece in stream.text_stream])
        if helper:
            final = await stream.sdk_stream.get_final_message()
            assert final.usage.output_tokens == 3
        out = exposition(sentient)
    assert text == "Hello, world"
    assert stream.result is not None
    assert stream.result.usage == Usage(11, 3)
    assert stream.result.finish_reason == "end_turn"
    assert sample(out, "llm_tokens_consumed_total", provider="anthropic", type="input") == 11
    assert sample(out, "llm_tokens_consumed_total", provider="anthropic", type="output") == 3
    assert sample(out, "llm_requests_total", provider="anthropic", status="success") == 1
    assert sample(out, "llm_time_to_first_token_seconds_count", provider="anthropic") == 1


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_sdk_stream_failing_before_its_first_chunk_is_retried_attempts_times(
    kind: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """Always 503: exactly `attempts` requests per stream (the SDK's own retries are off); 503-then-200 serves."""
    fake = openai_fake if kind == "openai" else anthropic_fake
    model = "gpt-test" if kind == "openai" else "claude-test"
    entries = providers(openai_fake) if kind == "openai" else providers(anthropic=anthropic_fake)
    app, sentient = llm_app(entries, llm_retry_attempts=3)
    fake.status = 503
    async with running(app):
        factory = (openai_factory if kind == "openai" else anthropic_factory)(sentient)
        with pytest.raises(ProviderError) as info:
            async for _ in sentient.llm.sdk.stream(kind, model, factory):
                pass
        assert fake.posts == 3
        fake.status = None
        fake.script.extend([503])
        stream = sentient.llm.sdk.stream(kind, model, factory)
        events = [event async for event in stream]
        out = exposition(sentient)
    assert info.value.status == 503
    assert getattr(info.value.__cause__, "status_code", None) == 503  # the SDK's own error
    assert events
    assert stream.result is not None
    assert stream.result.usage == Usage(11, 3)
    assert fake.posts == 5
    assert sample(out, "llm_requests_total", provider=kind, status="error") == 4
    assert sample(out, "llm_retries_total", provider=kind, reason="503") == 3


async def test_open_breaker_rejects_an_sdk_stream_at_once(openai_fake: FakeProvider) -> None:
    """Once the breaker is open, an SDK stream fails in < 50 ms without the SDK being called."""
    app, sentient = llm_app(
        providers(openai_fake),
        llm_retry_attempts=1,
        llm_breaker_minimum_calls=1,
        llm_breaker_window_size=1,
    )
    openai_fake.status = 503
    async with running(app):
        make = openai_factory(sentient)
        calls: list[float] = []

        def factory() -> Any:
            calls.append(time.monotonic())
            return make()

        with pytest.raises(ProviderError):
            async for _ in sentient.llm.sdk.stream("openai", "gpt-test", factory):
                pass
        with pytest.raises(CircuitOpenError):
            async for _ in sentient.llm.sdk.stream("openai", "gpt-test", factory):
                pass
        out = exposition(sentient)
    # rejected without building a client or sending: the factory ran for the first call only
    assert len(calls) == 1
    assert openai_fake.posts == 1
    assert sample(out, "llm_requests_total", provider="openai", status="circuit_open") == 1


async def test_leaving_an_sdk_stream_early_is_cancelled_and_frees_the_connection(
    openai_fake: FakeProvider,
) -> None:
    """Breaking out of `async with stream`: recorded as cancelled, the pooled connection is free again."""
    openai_fake.chunk_delay = 0.02
    app, sentient = llm_app(providers(openai_fake))
    async with running(app):
        async with sentient.llm.sdk.stream("openai", "gpt-test", openai_factory(sentient)) as s:
            async for _ in s:
                break
        in_use = sentient.pools.get("openai").stats().in_use
        out = exposition(sentient)
    assert in_use == 0
    assert s.result is None
    assert sample(out, "llm_requests_total", provider="openai", status="cancelled") == 1
    assert sample(out, "llm_requests_total", provider="openai", status="success") == 0


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """A loopback OTLP receiver the app's exporter sends to."""
    server = OtlpReceiver().start()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield server
    finally:
        server.close()


async def test_sdk_stream_gets_the_genai_span(
    receiver: OtlpReceiver, openai_fake: FakeProvider
) -> None:
    """A streamed SDK call in a route: one "chat gpt-test" span with the usage, parent of the POST."""
    app = FastAPI()

    @app.get("/ask")
    async def ask(sentient: SentientDep) -> dict[str, str]:
        stream = sentient.llm.sdk.stream("openai", "gpt-test", openai_factory(sentient))
        async for _ in stream:
            pass
        assert stream.result is not None
        return {"text": stream.result.text}

    include_plugin(app, tracing_settings(llm_providers=providers(openai_fake)))
    async with running(app) as client:
        assert (await client.get("/ask")).json() == {"text": "Hello, world"}
    spans = receiver.wait_for(lambda s: [x for x in s if x.name == "GET /ask"] and s)
    server = next(s for s in spans if s.name == "GET /ask")
    llm = next(s for s in spans if s.name == "chat gpt-test")
    assert llm.parent_span_id == server.span_id
    assert llm.attributes["gen_ai.request.stream"] is True
    assert llm.attributes["gen_ai.usage.input_tokens"] == 11
    assert llm.attributes["gen_ai.usage.output_tokens"] == 3
    (post,) = [s for s in spans if s.name == "POST"]
    assert post.parent_span_id == llm.span_id
