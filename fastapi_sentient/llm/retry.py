"""The LLM layer's retry policy and budget are the resilience layer's (one loop, one budget)."""

from __future__ import annotations

from fastapi_sentient.resilience.budget import RetryBudget
from fastapi_sentient.resilience.retry import RetryPolicy

__all__ = ["RetryBudget", "RetryPolicy"]
