"""The LLM layer's breakers: one per provider and model, on the shared resilience breaker.

Only the errors differ from :class:`fastapi_sentient.resilience.CircuitBreaker`:
a rejection raises the LLM layer's :class:`~fastapi_sentient.llm._errors.CircuitOpenError`
or :class:`~fastapi_sentient.llm._errors.ThrottledError`, which carry the provider and
model and are :class:`~fastapi_sentient.exceptions.LLMError` (a fallback route moves on).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi_sentient.llm._errors import CircuitOpenError, ThrottledError
from fastapi_sentient.resilience._breaker import (
    BreakerConfig,
    BreakerState,
    Permit,
    TransitionListener,
)
from fastapi_sentient.resilience._breaker import CircuitBreaker as _Breaker

__all__ = ["BreakerConfig", "BreakerState", "CircuitBreaker", "Permit", "TransitionListener"]


class CircuitBreaker(_Breaker):
    """The breaker of one provider and model."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        provider: str = "",
        model: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        super().__init__(name, config, clock=clock, on_transition=on_transition)

    def open_error(self, retry_after: float) -> Exception:
        """:class:`~fastapi_sentient.llm._errors.CircuitOpenError` naming provider and model."""
        return CircuitOpenError(self.name, retry_after, provider=self.provider, model=self.model)

    def throttled_error(self, wait: float) -> Exception:
        """:class:`~fastapi_sentient.llm._errors.ThrottledError` naming provider and model."""
        msg = f"{self.name} is rate limited by the provider for another {wait:.1f}s"
        return ThrottledError(msg, provider=self.provider, model=self.model, retry_after=wait)
