"""Prices per model and the cost of a call.

Prices are USD per million tokens, ``(input, output)``.  The built-in table holds
list prices of common models as published by their vendors in 2025; vendors
change them, so the table is a starting point, never the truth: override or
extend it per provider with ``prices`` in ``SENTIENT_LLM_PROVIDERS`` (or
:meth:`PriceTable.set`).  Dated snapshots (``gpt-4o-2024-08-06``) match their
family by the longest known prefix.  A model with no price costs 0 and is
reported once in the log, so a missing price is visible without failing calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi_sentient.llm.types import Usage

logger = logging.getLogger("fastapi_sentient.llm.pricing")

#: USD per million (input, output) tokens.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
}


class PriceTable:
    """Model → (input, output) USD per million tokens, with prefix matching."""

    def __init__(self, prices: Mapping[str, tuple[float, float]] | None = None) -> None:
        self._prices: dict[str, tuple[float, float]] = dict(DEFAULT_PRICES)
        self._warned: set[str] = set()
        if prices:
            for model, price in prices.items():
                self.set(model, *price)

    def set(self, model: str, input_per_million: float, output_per_million: float) -> None:
        """Set (or override) the price of ``model`` and the snapshots it prefixes."""
        if input_per_million < 0 or output_per_million < 0:
            msg = f"price of {model!r} must not be negative"
            raise ValueError(msg)
        self._prices[model] = (float(input_per_million), float(output_per_million))

    def price(self, model: str) -> tuple[float, float] | None:
        """The price of ``model``: exact name first, then the longest matching prefix."""
        exact = self._prices.get(model)
        if exact is not None:
            return exact
        best = ""
        for known in self._prices:
            if model.startswith(known) and len(known) > len(best):
                best = known
        return self._prices[best] if best else None

    def cost(self, model: str, usage: Usage) -> float:
        """USD for ``usage`` on ``model`` (0 when the price is unknown)."""
        price = self.price(model)
        if price is None:
            if model not in self._warned and len(self._warned) < 100:
                self._warned.add(model)
                logger.warning("no price for model %s; its cost is counted as 0", model)
            return 0.0
        return (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1_000_000
