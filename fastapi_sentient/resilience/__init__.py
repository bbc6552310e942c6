"""Resilience for every dependency: breakers, retries with a budget, deadlines, bulkheads.

One implementation of each primitive serves the whole package — the LLM layer's
provider calls, named HTTP clients and any async callable a route guards.
``sentient.resilience`` is a :class:`ResilienceRegistry`; see ``docs/resilience.md``.
"""

from __future__ import annotations

from fastapi_sentient.resilience._breaker import BreakerConfig, BreakerState, CircuitBreaker
from fastapi_sentient.resilience._errors import (
    BulkheadFullError,
    CircuitOpenError,
    DeadlineExceededError,
    ResilienceError,
    ThrottledError,
)
from fastapi_sentient.resilience._policy import Policy
from fastapi_sentient.resilience._registry import ResilienceRegistry

__all__ = [
    "BreakerConfig",
    "BreakerState",
    "BulkheadFullError",
    "CircuitBreaker",
    "CircuitOpenError",
    "DeadlineExceededError",
    "Policy",
    "ResilienceError",
    "ResilienceRegistry",
    "ThrottledError",
]
