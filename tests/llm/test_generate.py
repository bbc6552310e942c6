"""generate() and stream() over the pooled clients, against the fake providers."""

from __future__ import annotations

from contextlib import aclosing

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running, sample

MESSAGES = [{"role": "user", "content": "hi"}]


def exposition(sentient: object) -> str:
    from prometheus_client import generate_latest

    return generate_latest(sentient.metrics.registry).decode()  # type: ignore[attr-defined]


async def test_five_calls_count_requests_and_tokens_exactly(openai_fake: FakeProvider) -> None:
    """Five calls with usage 11/3 → 5 successes, 55 input and 15 output tokens; GenAI agrees."""
    app, sentient = llm_app(providers(openai_fake))
    async with running(app):
        for _ in range(5):
            result = await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
            assert result.text == "Hello, world"
            assert (result.usage.input_tokens, result.usage.output_tokens) == (11, 3)
            assert result.provider == "openai"
        text = exposition(sentient)
    labels = {"provider": "openai", "model": "gpt-test"}
    assert sample(text, "llm_requests_total", status="success", **labels) == 5
    assert sample(text, "llm_tokens_consumed_total", type="input", **labels) == 55
    assert sample(text, "llm_tokens_consumed_total", type="output", **labels) == 15
    assert sample(text, "llm_request_duration_seconds_count", **labels) == 5
    genai = {"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-test"}
    assert sample(text, "gen_ai_client_token_usage_sum", gen_ai_token_type="input", **genai) == 55
    assert sample(text, "gen_ai_client_token_usage_sum", gen_ai_token_type="output", **genai) == 15
    assert sample(text, "gen_ai_client_token_usage_count", gen_ai_token_type="input", **genai) == 5
    assert (
        sample(
            text, "gen_ai_client_token_usage_bucket", gen_ai_token_type="input", le="16.0", **genai
        )
        == 5
    )
    assert (
        sample(
            text, "gen_ai_client_token_usage_bucket", gen_ai_token_type="output", le="4.0", **genai
        )
        == 5
    )
    assert (
        sample(
            text,
            "gen_ai_client_operation_duration_seconds_count",
            gen_ai_operation_name="chat",
            **genai,
        )
        == 5
    )
    assert openai_fake.count("POST", "chat/completions") == 5
    list(text_string_to_metric_families(text))  # the exposition parses


async def test_cost_follows_the_configured_price(openai_fake: FakeProvider) -> None:
    """A configured price of (1, 2) USD per million tokens costs 11×1 + 3×2 per million."""
    app, sentient = llm_app(providers(openai_fake, prices={"gpt-test": [1.0, 2.0]}))
    async with running(app):
        result = await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
        text = exposition(sentient)
    assert result.cost_usd == pytest.approx(17 / 1_000_000)
    cost = sample(text, "llm_cost_usd_total", provider="openai", model="gpt-test")
    assert cost == pytest.approx(17 / 1_000_000)


async def test_unconfigured_model_is_labelled_other(openai_fake: FakeProvider) -> None:
    """A model the provider does not list is recorded under model="other"."""
    app, sentient = llm_app(providers(openai_fake))
    async with running(app):
        await sentient.llm.generate("openai", model="typo-model-123", messages=MESSAGES)
        text = exposition(sentient)
    assert sample(text, "llm_requests_total", model="other", status="success") == 1
    assert "typo-model-123" not in text


async def test_anthropic_messages_and_system_prompt(anthropic_fake: FakeProvider) -> None:
    """Anthropic calls send system separately and max_tokens always, and read usage."""
    app, sentient = llm_app(providers(anthropic=anthropic_fake))
    async with running(app):
        result = await sentient.llm.generate(
            "anthropic",
            model="claude-test",
            messages=[{"role": "system", "content": "be brief"}, *MESSAGES],
            temperature=0.2,
        )
    assert result.text == "Hello, world"
    assert result.usage.input_tokens == 11
    assert result.usage.output_tokens == 3
    body = anthropic_fake.bodies[-1]
    assert body["system"] == "be brief"
    assert body["messages"] == MESSAGES
    assert body["max_tokens"] == 4096  # SENTIENT_LLM_ANTHROPIC_MAX_TOKENS
    assert body["temperature"] == 0.2
    assert anthropic_fake.headers[-1]["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_stream_yields_chunks_and_records_usage_and_ttft(
    kind: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """A stream yields the text chunk by chunk, then usage, cost and time to first token."""
    fake = openai_fake if kind == "openai" else anthropic_fake
    entries = providers(openai_fake) if kind == "openai" else providers(anthropic=anthropic_fake)
    model = "gpt-test" if kind == "openai" else "claude-test"
    app, sentient = llm_app(entries)
    async with running(app):
        stream = sentient.llm.stream(kind, model=model, messages=MESSAGES)
        chunks = [chunk async for chunk in stream]
        text = exposition(sentient)
    assert chunks == fake.chunks
    assert stream.result is not None
    assert stream.result.usage.input_tokens == 11
    assert stream.result.usage.output_tokens == 3
    assert stream.result.provider == kind
    assert sample(text, "llm_requests_total", provider=kind, status="success") == 1
    assert sample(text, "llm_tokens_consumed_total", provider=kind, type="output") == 3
    assert sample(text, "llm_time_to_first_token_seconds_count", provider=kind, model=model) == 1


async def test_stream_closed_early_releases_connection(openai_fake: FakeProvider) -> None:
    """Leaving a stream after one chunk records it as cancelled and frees the pool slot."""
    openai_fake.chunks = ["a"] * 50
    openai_fake.chunk_delay = 0.01
    app, sentient = llm_app(providers(openai_fake))
    async with running(app):
        async with aclosing(
            sentient.llm.stream("openai", model="gpt-test", messages=MESSAGES)
        ) as s:
            async for _chunk in s:
                break
        stats = sentient.pools.get("openai").stats()
        text = exposition(sentient)
    assert stats.in_use == 0
    assert sample(text, "llm_requests_total", provider="openai", status="cancelled") == 1
    assert sample(text, "llm_requests_total", provider="openai", status="success") == 0


async def test_route_falls_back_and_says_who_served(
    openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """With the first target failing, the route's next target serves and metrics name it."""
    openai_fake.status = 500
    app, sentient = llm_app(
        providers(openai_fake, anthropic_fake),
        llm_routes={"smart": ["openai/gpt-test", "anthropic/claude-test"]},
        llm_retry_attempts=1,
    )
    async with running(app):
        result = await sentient.llm.generate(model="smart", messages=MESSAGES)
        text = exposition(sentient)
    assert result.provider == "anthropic"
    assert result.model == "claude-test"
    assert openai_fake.posts == 1
    assert anthropic_fake.posts == 1
    assert sample(text, "llm_route_served_total", route="smart", provider="anthropic") == 1
    assert (
        sample(text, "llm_fallbacks_total", route="smart", provider="openai", reason="error") == 1
    )
    assert sample(text, "llm_requests_total", provider="openai", status="error") == 1


async def test_no_provider_configured_says_so() -> None:
    """Without providers, generate raises NoProviderError naming SENTIENT_LLM_PROVIDERS."""
    from fastapi_sentient.llm import NoProviderError

    app, sentient = llm_app({})
    async with running(app):
        with pytest.raises(NoProviderError, match="SENTIENT_LLM_PROVIDERS"):
            await sentient.llm.generate(model="anything", messages=MESSAGES)


async def test_stream_falls_back_before_the_first_token(
    openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """A stream whose first target fails to open is served by the next target."""
    openai_fake.status = 503
    app, sentient = llm_app(
        providers(openai_fake, anthropic_fake),
        llm_routes={"chat": ["openai/gpt-test", "anthropic/claude-test"]},
        llm_retry_attempts=1,
    )
    async with running(app):
        stream = sentient.llm.stream(model="chat", messages=MESSAGES)
        text = "".join([chunk async for chunk in stream])
    assert text == "Hello, world"
    assert stream.result is not None
    assert stream.result.provider == "anthropic"


async def test_sdk_wrapper_records_anthropic_usage(anthropic_fake: FakeProvider) -> None:
    """sdk.call() around AsyncAnthropic returns the SDK's answer and records its tokens."""
    app, sentient = llm_app(providers(anthropic=anthropic_fake))
    async with running(app):
        client = sentient.llm.sdk.anthropic("anthropic")
        message = await sentient.llm.sdk.call(
            "anthropic",
            "claude-test",
            lambda: client.messages.create(model="claude-test", max_tokens=5, messages=MESSAGES),
        )
        out = exposition(sentient)
    assert message.content[0].text == "Hello, world"
    assert sample(out, "llm_tokens_consumed_total", provider="anthropic", type="input") == 11
    assert sample(out, "llm_requests_total", provider="anthropic", status="success") == 1
    assert anthropic_fake.headers[-1]["x-api-key"] == anthropic_fake.key


async def test_add_provider_in_code_before_start(openai_fake: FakeProvider) -> None:
    """add_provider registers a pooled provider before startup; after it, it is refused."""
    from fastapi_sentient import ConfigurationError
    from tests.llm.fakes import OPENAI_KEY

    app, sentient = llm_app({})
    sentient.llm.add_provider(
        "local", kind="openai", base_url=openai_fake.url, api_key=OPENAI_KEY, models=["m1"]
    )
    sentient.llm.add_route("fast", ["local/m1"])
    async with running(app):
        result = await sentient.llm.generate(model="fast", messages=MESSAGES)
        assert result.provider == "local"
        # the two connections warmed before readiness served the call: none was added
        assert sentient.pools.get("local").stats().created == 2
        with pytest.raises(ConfigurationError, match="before the app starts"):
            sentient.llm.add_provider("late", kind="openai")


async def test_open_breaker_falls_through_and_all_failing_route_lists_each_error(
    openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """An open first target is skipped without a call; when every target fails, each error is listed."""
    from fastapi_sentient.llm import AllTargetsFailedError

    app, sentient = llm_app(
        providers(openai_fake, anthropic_fake),
        llm_routes={"chat": ["openai/gpt-test", "anthropic/claude-test"]},
        llm_retry_attempts=1,
        llm_breaker_minimum_calls=1,
        llm_breaker_window_size=1,
    )
    openai_fake.status = 503
    async with running(app):
        with pytest.raises(Exception, match="503"):
            await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
        result = await sentient.llm.generate("chat", messages=MESSAGES)
        assert result.provider == "anthropic"
        assert openai_fake.posts == 1  # the open breaker sent nothing
        anthropic_fake.status = 500
        with pytest.raises(AllTargetsFailedError) as info:
            await sentient.llm.generate("chat", messages=MESSAGES)
        text = exposition(sentient)
    assert [type(e).__name__ for e in info.value.errors] == ["CircuitOpenError", "ProviderError"]
    assert sample(text, "llm_fallbacks_total", route="chat", reason="circuit_open") == 2
