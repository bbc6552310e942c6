"""Prices: genai-prices for known models, configured prices first, unknown models never 0."""

from __future__ import annotations

import logging

import genai_prices
import pytest

from fastapi_sentient.llm._pricing import ModelPrice, PriceTable
from fastapi_sentient.llm._types import Usage

USAGE = Usage(input_tokens=10_000, output_tokens=2_000, cache_read_tokens=6_000,
              cache_write_tokens=1_000, reasoning_tokens=500)  # fmt: skip


def genai_cost(model: str, provider: str, usage: Usage) -> float:
    tokens = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    return float(genai_prices.calc_price(tokens, model, provider_id=provider).total_price)


@pytest.mark.parametrize(
    ("model", "provider"),
    [("claude-opus-4-5", "anthropic"), ("gpt-5", "openai"), ("o3", "openai")],
)
def test_current_models_are_priced_as_genai_prices_prices_them(model: str, provider: str) -> None:
    """claude-opus-4-5, gpt-5 and o3: non-zero, and exactly genai-prices' figure."""
    cost = PriceTable(provider_id=provider).cost(model, USAGE)
    assert cost is not None
    assert cost > 0
    assert cost == pytest.approx(genai_cost(model, provider, USAGE), rel=1e-12)


def test_cache_reads_are_cheaper_than_input() -> None:
    """The same input costs less when most of it is read from the cache (Opus 4.5: $5 vs $0.50)."""
    table = PriceTable(provider_id="anthropic")
    cold = table.cost("claude-opus-4-5", Usage(input_tokens=1_000_000))
    warm = table.cost("claude-opus-4-5", Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000))
    assert cold == pytest.approx(5.0)
    assert warm == pytest.approx(0.5)


def test_long_context_tier_applies() -> None:
    """Sonnet 4.5 above 200k input tokens is priced at its long-context tier, as genai-prices says."""
    table = PriceTable(provider_id="anthropic")
    short = Usage(input_tokens=100_000, output_tokens=1_000)
    long = Usage(input_tokens=300_000, output_tokens=1_000)
    short_cost, long_cost = (
        table.cost("claude-sonnet-4-5", short),
        table.cost("claude-sonnet-4-5", long),
    )
    assert short_cost == pytest.approx(genai_cost("claude-sonnet-4-5", "anthropic", short))
    assert long_cost == pytest.approx(genai_cost("claude-sonnet-4-5", "anthropic", long))
    assert long_cost is not None and short_cost is not None
    assert long_cost / 3 > short_cost  # the tier's per-token price is higher


def test_dated_snapshot_is_priced_as_its_model() -> None:
    """A dated model id finds its model in genai-prices."""
    table = PriceTable(provider_id="anthropic")
    assert table.cost("claude-opus-4-5-20251101", USAGE) == pytest.approx(
        table.cost("claude-opus-4-5", USAGE)
    )


def test_configured_price_overrides_and_prefix_matches() -> None:
    """A configured price wins over genai-prices; a snapshot takes its family's price."""
    table = PriceTable({"gpt-5": [1.0, 4.0]}, provider_id="openai")
    assert table.cost("gpt-5", Usage(1000, 500)) == pytest.approx(0.003)
    assert table.cost("gpt-5-2025-08-07", Usage(1000, 500)) == pytest.approx(0.003)


def test_configured_cache_prices() -> None:
    """[input, output, cache_read, cache_write]: each part of the input at its own price."""
    price = ModelPrice.parse([2.0, 8.0, 0.5, 3.0])
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000,
                  cache_read_tokens=500_000, cache_write_tokens=100_000)  # fmt: skip
    assert price.cost(usage) == pytest.approx(0.4 * 2.0 + 0.5 * 0.5 + 0.1 * 3.0 + 8.0)
    assert ModelPrice.parse({"input": 1, "output": 2}).cost(usage) == pytest.approx(1.0 + 2.0)


def test_unknown_model_has_no_cost_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """No price anywhere: cost None (never 0) and one warning naming the model."""
    table = PriceTable(provider_id="openai")
    with caplog.at_level(logging.WARNING):
        assert table.cost("mystery", Usage(10, 10)) is None
        assert table.cost("mystery", Usage(10, 10)) is None
    assert caplog.text.count("no price for model mystery") == 1


def test_self_hosted_provider_gets_no_price_from_genai_prices() -> None:
    """A vLLM server serving a model named like OpenAI's is not charged OpenAI's price."""
    assert PriceTable(provider_id="vllm").cost("gpt-4o", USAGE) is None
    assert PriceTable(provider_id="openai").cost("gpt-4o", USAGE) is not None


def test_negative_price_refused() -> None:
    """Prices are never negative."""
    with pytest.raises(ValueError, match="negative"):
        PriceTable().set("x", [-1.0, 0.0])
