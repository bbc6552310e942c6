"""Resilience for every dependency: breakers, retries with a budget, deadlines, bulkheads.

One implementation of each primitive serves the whole package — the LLM layer's
provider calls, named HTTP clients and any async callable a route guards.
``sentient.resilience`` is a :class:`ResilienceRegistry`; see ``docs/resilience.md``.
"""

from __future__ import annotations

from fastapi_sentient.resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from fastapi_sentient.resilience.budget import RetryBudget
from fastapi_sentient.resilience.bulkhead import Bulkhead
from fastapi_sentient.resilience.deadline import Deadline
from fastapi_sentient.resilience.errors import (
    BulkheadFullError,
    CircuitOpenError,
    DeadlineExceededError,
    ResilienceError,
    ThrottledError,
)
from fastapi_sentient.resilience.guard import Guard
from fastapi_sentient.resilience.outcome import Classification, Outcome, classify
from fastapi_sentient.resilience.policy import Policy
from fastapi_sentient.resilience.registry import ResilienceRegistry
from fastapi_sentient.resilience.retry import RetryPolicy, retrying

__all__ = [
    "BreakerConfig",
    "BreakerState",
    "Bulkhead",
    "BulkheadFullError",
    "CircuitBreaker",
    "CircuitOpenError",
    "Classification",
    "Deadline",
    "DeadlineExceededError",
    "Guard",
    "Outcome",
    "Policy",
    "ResilienceError",
    "ResilienceRegistry",
    "RetryBudget",
    "RetryPolicy",
    "ThrottledError",
    "classify",
    "retrying",
]
