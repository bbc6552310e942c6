"""Retry policy and retry budget on their own."""

from __future__ import annotations

import pytest

from fastapi_sentient.resilience._budget import RetryBudget
from fastapi_sentient.resilience._retry import RetryPolicy


def test_backoff_is_exponential_and_capped() -> None:
    """Without jitter the ceiling doubles per retry up to max_delay."""
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=False)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]


def test_full_jitter_stays_under_the_ceiling() -> None:
    """With jitter each delay is the ceiling times a uniform draw."""
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    assert policy.backoff(3, rng=lambda: 0.25) == 1.0
    assert policy.backoff(3, rng=lambda: 0.0) == 0.0


def test_retry_after_is_used_up_to_the_cap() -> None:
    """Retry-After replaces the backoff when within the cap; beyond it, no retry."""
    policy = RetryPolicy(retry_after_cap=10.0)
    assert policy.delay(1, 4.0) == 4.0
    assert policy.delay(1, 11.0) is None


def test_invalid_policy_refused() -> None:
    """Zero attempts or inverted delays are refused."""
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=2.0, max_delay=1.0)


def test_budget_allows_a_share_of_calls_plus_a_floor() -> None:
    """ratio 0.2 and a floor of 1 per 10 s: 10 calls allow 3 retries, then refuse."""
    now = [0.0]
    budget = RetryBudget(0.2, min_per_second=0.1, ttl=10.0, clock=lambda: now[0])
    for _ in range(10):
        budget.deposit()
    assert [budget.try_withdraw() for _ in range(4)] == [True, True, True, False]
    now[0] = 11.0  # the window slides: old calls and retries are forgotten
    assert budget.balance == pytest.approx(1.0)
