"""Classifying what happened to an LLM call: the resilience layer's rules plus provider errors.

The vocabulary (breaker outcome, retryability, labels) and the rules for HTTP
statuses and transport errors are :mod:`fastapi_sentient.resilience._outcome`'s;
this module adds the LLM layer's own errors.  Exceptions from the official SDKs
are classified by shape (``status_code``, ``response.headers``, the class name),
so this module imports neither SDK.
"""

from __future__ import annotations

from fastapi_sentient.llm._errors import (
    PoolExhaustedError,
    ProviderError,
    RetryBudgetExhaustedError,
)
from fastapi_sentient.resilience import _outcome as _generic
from fastapi_sentient.resilience._outcome import (
    POOL_TIMEOUT,
    REJECTED,
    SUCCESS,
    Classification,
    Outcome,
    classify_status,
    parse_retry_after,
    parse_should_retry,
)

__all__ = [
    "SUCCESS",
    "Classification",
    "Outcome",
    "classify",
    "classify_status",
    "parse_retry_after",
    "parse_should_retry",
]


def classify(exc: BaseException) -> Classification:
    """Classify an exception raised by an attempt (ours, httpx2's or an official SDK's)."""
    if isinstance(exc, RetryBudgetExhaustedError):
        return REJECTED
    if isinstance(exc, ProviderError):
        return classify_status(
            exc.status, retry_after=exc.retry_after, should_retry=exc.should_retry
        )
    if isinstance(exc, PoolExhaustedError):
        return POOL_TIMEOUT
    return _generic.classify(exc)
