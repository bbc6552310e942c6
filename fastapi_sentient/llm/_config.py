"""The LLM layer's breaker, retries and budget: a resilience policy under ``SENTIENT_LLM_*`` names.

``SENTIENT_LLM_BREAKER_*`` and ``SENTIENT_LLM_RETRY_*`` are the settings a named
resilience policy has, with the LLM layer's own defaults.  They are read into a
:class:`~fastapi_sentient.settings.PolicySettings` and built by
:mod:`fastapi_sentient.resilience._policy`, so a knob means the same for an LLM
call as for any guarded call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi_sentient.settings import PolicySettings

if TYPE_CHECKING:
    from fastapi_sentient._settings_groups import LLMSettings


def policy_settings(s: LLMSettings) -> PolicySettings:
    """``SENTIENT_LLM_BREAKER_*`` and ``SENTIENT_LLM_RETRY_*`` as a policy's settings."""
    return PolicySettings(
        failure_rate=s.breaker_failure_rate,
        slow_call_rate=s.breaker_slow_call_rate,
        slow_call_duration=s.breaker_slow_call_duration,
        window_size=s.breaker_window_size,
        window_seconds=s.breaker_window_seconds,
        minimum_calls=s.breaker_minimum_calls,
        open_duration=s.breaker_open_duration,
        half_open_calls=s.breaker_half_open_calls,
        half_open_max_wait=s.breaker_half_open_max_wait,
        attempts=s.retry_attempts,
        base_delay=s.retry_base_delay,
        max_delay=s.retry_max_delay,
        retry_after_cap=s.retry_after_cap,
        budget_ratio=s.retry_budget_ratio,
        budget_min_per_second=s.retry_budget_min_per_second,
    )
