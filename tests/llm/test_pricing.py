"""The price table and the cost of a call."""

from __future__ import annotations

import logging

import pytest

from fastapi_sentient.llm.pricing import PriceTable
from fastapi_sentient.llm.types import Usage


def test_snapshot_matches_the_longest_prefix() -> None:
    """gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini, not gpt-4o."""
    table = PriceTable()
    assert table.price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert table.price("gpt-4o-2024-08-06") == (2.50, 10.00)


def test_override_and_cost() -> None:
    """A configured price wins and cost is tokens × price per million."""
    table = PriceTable({"gpt-4o": (1.0, 4.0)})
    assert table.cost("gpt-4o", Usage(1000, 500)) == pytest.approx(0.003)


def test_unknown_model_costs_zero_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """No price: cost 0 and one warning naming the model."""
    table = PriceTable()
    with caplog.at_level(logging.WARNING):
        assert table.cost("mystery", Usage(10, 10)) == 0.0
        assert table.cost("mystery", Usage(10, 10)) == 0.0
    assert caplog.text.count("no price for model mystery") == 1


def test_negative_price_refused() -> None:
    """Prices are never negative."""
    with pytest.raises(ValueError):
        PriceTable().set("x", -1.0, 0.0)
