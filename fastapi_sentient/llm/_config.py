"""The LLM layer's resilience objects, built from ``SENTIENT_LLM_*`` settings."""

from __future__ import annotations

from fastapi_sentient.resilience.breaker import BreakerConfig
from fastapi_sentient.resilience.budget import RetryBudget
from fastapi_sentient.resilience.retry import RetryPolicy
from fastapi_sentient.settings import SentientSettings


def breaker_config(s: SentientSettings) -> BreakerConfig:
    """``SENTIENT_LLM_BREAKER_*`` (the window is widened to hold ``minimum_calls``)."""
    return BreakerConfig(
        failure_rate_threshold=s.llm_breaker_failure_rate,
        slow_call_rate_threshold=s.llm_breaker_slow_call_rate,
        slow_call_duration=s.llm_breaker_slow_call_duration,
        window_size=max(s.llm_breaker_window_size, s.llm_breaker_minimum_calls),
        window_seconds=s.llm_breaker_window_seconds,
        minimum_calls=s.llm_breaker_minimum_calls,
        open_duration=s.llm_breaker_open_duration,
        half_open_calls=s.llm_breaker_half_open_calls,
        half_open_max_wait=s.llm_breaker_half_open_max_wait,
    )


def retry_policy(s: SentientSettings) -> RetryPolicy:
    """``SENTIENT_LLM_RETRY_*``."""
    return RetryPolicy(
        attempts=s.llm_retry_attempts,
        base_delay=s.llm_retry_base_delay,
        max_delay=max(s.llm_retry_max_delay, s.llm_retry_base_delay),
        retry_after_cap=s.llm_retry_after_cap,
    )


def retry_budget(s: SentientSettings) -> RetryBudget:
    """One provider's budget from ``SENTIENT_LLM_RETRY_BUDGET_*``."""
    return RetryBudget(s.llm_retry_budget_ratio, min_per_second=s.llm_retry_budget_min_per_second)
