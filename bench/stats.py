"""Medians and percentiles, the only statistics the report uses."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The ``pct`` percentile by the nearest-rank method (no interpolation)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def rounded(value: float | None, digits: int = 2) -> float | None:
    """``round`` that lets None through."""
    return None if value is None else round(value, digits)
