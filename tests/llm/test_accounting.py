"""Every kind of token and its cost, from both wire formats, streamed and not, and via the SDKs."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from fastapi_sentient import Sentient
from fastapi_sentient.llm._pricing import PriceTable
from fastapi_sentient.llm._types import Usage
from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running, sample

MESSAGES = [{"role": "user", "content": "hi"}]
#: What each fake call reports, in our meaning (input includes the cache, output the reasoning).
EXPECTED = {
    "openai": Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000,
                    reasoning_tokens=120),
    "anthropic": Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=900,
                       cache_write_tokens=200),
}  # fmt: skip
MODELS = {"openai": "gpt-5", "anthropic": "claude-opus-4-5"}


def configure(fake: FakeProvider) -> None:
    expected = EXPECTED[fake.kind]
    fake.usage = (expected.input_tokens, expected.output_tokens)
    fake.cache_read = expected.cache_read_tokens
    fake.cache_write = expected.cache_write_tokens
    fake.reasoning = expected.reasoning_tokens


def app_for(kind: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider) -> Any:
    fake = openai_fake if kind == "openai" else anthropic_fake
    configure(fake)
    model = MODELS[kind]
    entries = providers(openai_fake) if kind == "openai" else providers(anthropic=anthropic_fake)
    entries[kind]["models"] = [model]
    return llm_app(entries)


async def five_calls(sentient: Sentient, kind: str, how: str) -> list[tuple[Usage, float | None]]:
    model = MODELS[kind]
    seen: list[tuple[Usage, float | None]] = []
    for _ in range(5):
        if how == "generate":
            result = await sentient.llm.generate(kind, model=model, messages=MESSAGES)
        elif how == "stream":
            stream = sentient.llm.stream(kind, model=model, messages=MESSAGES)
            assert "".join([chunk async for chunk in stream]) == "Hello, world"
            assert stream.result is not None
            result = stream.result
        elif how == "sdk":
            result = await sdk_call(sentient, kind, model)
        else:
            result = await sdk_stream(sentient, kind, model)
        seen.append((result.usage, result.cost_usd))
    return seen


async def sdk_call(sentient: Sentient, kind: str, model: str) -> Any:
    if kind == "openai":
        client = sentient.llm.sdk.openai("openai")
        response = await sentient.llm.sdk.call(
            kind, model, lambda: client.chat.completions.create(model=model, messages=MESSAGES)
        )
        assert response.usage.prompt_tokens_details.cached_tokens == 1000
    else:
        claude = sentient.llm.sdk.anthropic("anthropic")
        response = await sentient.llm.sdk.call(
            kind,
            model,
            lambda: claude.messages.create(model=model, max_tokens=50, messages=MESSAGES),
        )
        assert response.usage.cache_read_input_tokens == 900
    from fastapi_sentient.llm._sdk._shapes import usage_of

    usage = usage_of(response)
    return type(
        "R", (), {"usage": usage, "cost_usd": PriceTable(provider_id=kind).cost(model, usage)}
    )


async def sdk_stream(sentient: Sentient, kind: str, model: str) -> Any:
    if kind == "openai":
        client = sentient.llm.sdk.openai("openai")
        factory: Any = lambda: client.chat.completions.create(  # noqa: E731
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    else:
        claude = sentient.llm.sdk.anthropic("anthropic")
        factory = lambda: claude.messages.stream(model=model, max_tokens=50, messages=MESSAGES)  # noqa: E731
    stream = sentient.llm.sdk.stream(kind, model, factory)
    async with stream:
        assert "".join([t async for t in stream.text_stream]) == "Hello, world"
    return stream.result


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
@pytest.mark.parametrize("how", ["generate", "stream", "sdk", "sdk-stream"])
@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_five_calls_count_every_token_type_and_cost_what_genai_prices_says(
    kind: str, how: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """Five calls with cache reads (and writes / reasoning): exact counts per type, genai's cost."""
    app, sentient = app_for(kind, openai_fake, anthropic_fake)
    async with running(app):
        seen = await five_calls(sentient, kind, how)
        text = generate_latest(sentient.metrics.registry).decode()
    expected = EXPECTED[kind]
    model = MODELS[kind]
    unit_cost = PriceTable(provider_id=kind).cost(model, expected)
    assert unit_cost is not None
    assert unit_cost > 0
    for usage, cost in seen:
        assert usage == expected
        assert cost == pytest.approx(unit_cost)
    labels = {"provider": kind, "model": model}
    for type_, count in expected.by_type().items():
        assert sample(text, "llm_tokens_consumed_total", type=type_, **labels) == 5 * count
    assert sample(text, "llm_cost_usd_total", **labels) == pytest.approx(5 * unit_cost)
    genai = {"gen_ai_provider_name": kind, "gen_ai_request_model": model}
    assert sample(text, "gen_ai_client_token_usage_sum", gen_ai_token_type="input", **genai) == 6000
    assert (
        sample(text, "gen_ai_client_token_usage_sum", gen_ai_token_type="output", **genai) == 1500
    )


async def test_unpriced_model_counts_tokens_and_adds_no_cost(
    openai_fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """A model with no price: tokens counted, cost None, no cost series, one warning."""
    app, sentient = llm_app(providers(openai_fake))
    async with running(app):
        for _ in range(3):
            result = await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
            assert result.cost_usd is None
        text = generate_latest(sentient.metrics.registry).decode()
    labels = {"provider": "openai", "model": "gpt-test"}
    assert sample(text, "llm_tokens_consumed_total", type="input", **labels) == 33
    assert (
        sample(text, "llm_cost_usd_total", **labels) == 0
    )  # exported from startup, never increased
    assert caplog.text.count("no price for model gpt-test") == 1


async def test_provider_name_is_configurable(openai_fake: FakeProvider) -> None:
    """A vLLM server behind the OpenAI format is reported as vllm, not openai, and not priced."""
    app, sentient = llm_app(providers(openai_fake, provider_name="vllm", models=["gpt-4o"]))
    async with running(app):
        result = await sentient.llm.generate("openai", model="gpt-4o", messages=MESSAGES)
        text = generate_latest(sentient.metrics.registry).decode()
    assert result.cost_usd is None
    genai = {"gen_ai_provider_name": "vllm", "gen_ai_request_model": "gpt-4o"}
    assert sample(text, "gen_ai_client_token_usage_sum", gen_ai_token_type="input", **genai) == 11
    assert 'gen_ai_provider_name="openai"' not in text


async def test_time_to_first_chunk_under_both_names(openai_fake: FakeProvider) -> None:
    """A stream records llm_time_to_first_token_seconds and the GenAI time_to_first_chunk."""
    app, sentient = llm_app(providers(openai_fake))
    async with running(app):
        stream = sentient.llm.stream("openai", model="gpt-test", messages=MESSAGES)
        [chunk async for chunk in stream]
        text = generate_latest(sentient.metrics.registry).decode()
    assert sample(text, "llm_time_to_first_token_seconds_count", provider="openai") == 1
    assert (
        sample(
            text,
            "gen_ai_client_operation_time_to_first_chunk_seconds_count",
            gen_ai_provider_name="openai",
            gen_ai_request_model="gpt-test",
        )
        == 1
    )
