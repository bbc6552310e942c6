"""What a call cost: configured prices first, then genai-prices.

Prices come from `genai-prices <https://github.com/pydantic/genai-prices>`_,
Pydantic's maintained data for every major provider and model, with cache-read
and cache-write prices, long-context tiers and dated price changes.  Its data
ships inside the package (upgrade it for new prices) and can be refreshed at
run time from its repository (``SENTIENT_LLM_PRICES_UPDATE_INTERVAL``).

A configured price (``prices`` of a provider, ``SENTIENT_LLM_PRICES``) wins;
it matches its model exactly or as the longest prefix (``gpt-4o`` prices
``gpt-4o-2024-08-06``).  A model priced nowhere has no cost: its tokens are
counted, ``cost_usd`` is None, no cost is added to ``llm_cost_usd_total`` and
one warning names it, so a missing price is never mistaken for a free call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi_sentient.llm._types import Usage

logger = logging.getLogger("fastapi_sentient.llm._pricing")

#: gen_ai.provider.name values whose genai-prices provider id differs.
GENAI_PRICES_IDS: dict[str, str] = {
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
}

#: Unpriced models remembered per provider; bounded so odd model names cannot grow it.
_MAX_WARNINGS = 100


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens; cache prices default to the input price."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def __post_init__(self) -> None:
        for value in (self.input, self.output, self.cache_read, self.cache_write):
            if value is not None and value < 0:
                msg = "prices must not be negative"
                raise ValueError(msg)

    @classmethod
    def parse(cls, value: PriceSpec) -> ModelPrice:
        """From ``[input, output]``, ``[input, output, cache_read, cache_write]`` or a mapping."""
        if isinstance(value, ModelPrice):
            return value
        if isinstance(value, Mapping):
            return cls(**{str(k): float(v) for k, v in value.items()})
        numbers = [float(v) for v in value]
        if not 2 <= len(numbers) <= 4:
            msg = "a price is [input, output] or [input, output, cache_read, cache_write]"
            raise ValueError(msg)
        return cls(*numbers)

    def cost(self, usage: Usage) -> float:
        """USD for ``usage``: uncached input, cache reads and writes, output."""
        read, write = usage.cache_read_tokens, usage.cache_write_tokens
        uncached = max(usage.input_tokens - read - write, 0)
        read_price = self.input if self.cache_read is None else self.cache_read
        write_price = self.input if self.cache_write is None else self.cache_write
        total = (
            uncached * self.input
            + read * read_price
            + write * write_price
            + usage.output_tokens * self.output
        )
        return total / 1_000_000


PriceSpec = ModelPrice | Sequence[float] | Mapping[Any, float]


class PriceTable:
    """One provider's prices: configured ones, then genai-prices for ``provider_id``.

    ``provider_id`` is the provider's ``gen_ai.provider.name``; None prices
    only what is configured.  A provider genai-prices does not know (a vLLM or
    Ollama server) gets no prices from it.
    """

    def __init__(
        self,
        prices: Mapping[str, PriceSpec] | None = None,
        *,
        provider_id: str | None = None,
    ) -> None:
        self._prices: dict[str, ModelPrice] = {}
        self.provider_id = GENAI_PRICES_IDS.get(provider_id or "", provider_id)
        self._unknown: set[str] = set()
        for model, price in (prices or {}).items():
            self.set(model, price)

    def set(self, model: str, price: PriceSpec) -> None:
        """Set (or override) the price of ``model`` and the snapshots it prefixes."""
        try:
            self._prices[model] = ModelPrice.parse(price)
        except (TypeError, ValueError) as exc:
            msg = f"price of {model!r}: {exc}"
            raise ValueError(msg) from None

    def configured(self, model: str) -> ModelPrice | None:
        """The configured price of ``model``: exact name first, then the longest prefix."""
        exact = self._prices.get(model)
        if exact is not None:
            return exact
        best = ""
        for known in self._prices:
            if model.startswith(known) and len(known) > len(best):
                best = known
        return self._prices[best] if best else None

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD for ``usage`` on ``model``; None when no price is known."""
        price = self.configured(model)
        if price is not None:
            return price.cost(usage)
        if model not in self._unknown:
            cost = _genai_cost(self.provider_id, model, usage)
            if cost is not None:
                return cost
            if len(self._unknown) < _MAX_WARNINGS:
                self._unknown.add(model)
                logger.warning(
                    "no price for model %s (provider %s): its tokens are counted, its cost is "
                    "left out; configure one in the provider's prices or SENTIENT_LLM_PRICES",
                    model,
                    self.provider_id or "unknown",
                )
        return None


def _genai_cost(provider_id: str | None, model: str, usage: Usage) -> float | None:
    if provider_id is None:
        return None
    import genai_prices  # its price data loads on the first priced call

    tokens: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }
    try:
        calculation = genai_prices.calc_price(
            genai_prices.Usage(**tokens), model, provider_id=provider_id
        )
    except LookupError:
        return None
    return float(calculation.total_price)


def start_price_updates(interval: float, url: str | None) -> Any:
    """Refresh genai-prices' data every ``interval`` seconds in its background thread.

    Returns the ``genai_prices.UpdatePrices`` to ``stop()``.  A failed fetch
    keeps the prices in use (genai-prices logs it).
    """
    import genai_prices  # only when updates are configured

    options: dict[str, Any] = {"update_interval": interval}
    if url:
        options["url"] = url
    updater = genai_prices.UpdatePrices(**options)
    updater.start()
    return updater
