"""The LLM layer shares breaker decisions with the resilience layer's :class:`SharedBreakers`."""

from __future__ import annotations

from fastapi_sentient.resilience.shared import SharedBreakers

__all__ = ["SharedBreakers"]
