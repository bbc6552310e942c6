"""Classifying what happened to a call: breaker sample, retryability, metric labels.

The breaker counts *availability*, so only the provider's own failures trip it:
connect errors, timeouts, 5xx and 529 (Anthropic's "overloaded").  Client errors
(400, 401, 404, 422 ...) are the caller's problem and never trip it nor retry.
429 is its own outcome, "throttled": retried after Retry-After, never an
availability failure.  Cancellation (a client disconnect, a drain) is neither
success nor failure.  Exceptions from the official SDKs are classified by shape
(``status_code``, ``response.headers``, the class name), so this module imports
neither SDK.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx2

from fastapi_sentient.exceptions import PoolTimeoutError
from fastapi_sentient.llm.errors import (
    CircuitOpenError,
    ConcurrencyLimitError,
    PoolExhaustedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RetryBudgetExhaustedError,
    ThrottledError,
)


class Outcome(enum.StrEnum):
    """What one attempt means for the breaker."""

    SUCCESS = "success"
    FAILURE = "failure"
    THROTTLED = "throttled"
    IGNORED = "ignored"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Classification:
    """How one attempt ended, in every vocabulary that needs it."""

    outcome: Outcome
    retryable: bool
    error_type: str
    """OpenTelemetry ``error.type``: ``timeout``, ``connect``, an HTTP status, ..."""
    status: str
    """The ``status`` label of ``llm_requests_total``."""
    retry_after: float | None = None


SUCCESS = Classification(Outcome.SUCCESS, retryable=False, error_type="", status="success")


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def parse_should_retry(headers: Mapping[str, str] | None) -> bool | None:
    """The provider's own verdict from ``x-should-retry``, when it sends one."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "x-should-retry":
            return value.strip().lower() == "true"
    return None


def classify_status(
    status: int, *, retry_after: float | None = None, should_retry: bool | None = None
) -> Classification:
    """Classify an HTTP error status."""
    if status == 429:
        retryable = True if should_retry is None else should_retry
        return Classification(Outcome.THROTTLED, retryable, "429", "throttled", retry_after)
    if status >= 500 or status == 408:
        retryable = status != 501 if should_retry is None else should_retry
        return Classification(Outcome.FAILURE, retryable, str(status), "error", retry_after)
    # 409 is a transient lock conflict the SDKs retry; it says nothing about availability.
    retryable = status == 409 if should_retry is None else should_retry
    return Classification(Outcome.IGNORED, retryable, str(status), "client_error", retry_after)


def _headers_of(exc: BaseException) -> Mapping[str, str] | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping) else None


def classify(exc: BaseException) -> Classification:
    """Classify an exception raised by an attempt (ours, httpx2's or an official SDK's)."""
    if isinstance(exc, asyncio.CancelledError):
        return Classification(Outcome.CANCELLED, False, "cancelled", "cancelled")
    if isinstance(exc, CircuitOpenError):
        return Classification(Outcome.IGNORED, False, "circuit_open", "circuit_open")
    if isinstance(exc, RetryBudgetExhaustedError | ConcurrencyLimitError):
        return Classification(Outcome.IGNORED, False, "rejected", "rejected")
    if isinstance(exc, ThrottledError):
        return Classification(Outcome.THROTTLED, True, "429", "throttled", exc.retry_after)
    if isinstance(exc, ProviderError):
        return classify_status(
            exc.status, retry_after=exc.retry_after, should_retry=exc.should_retry
        )
    # Our own pool being full is local congestion, not the provider's fault:
    # neither a breaker failure nor worth retrying (that would add load).
    if isinstance(exc, httpx2.PoolTimeout | PoolTimeoutError | PoolExhaustedError):
        return Classification(Outcome.IGNORED, False, "pool_timeout", "timeout")
    if isinstance(exc, ProviderTimeoutError | httpx2.TimeoutException | TimeoutError):
        return Classification(Outcome.FAILURE, True, "timeout", "timeout")
    if isinstance(exc, ProviderConnectionError | httpx2.TransportError | ConnectionError):
        return Classification(Outcome.FAILURE, True, "connect", "error")
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        headers = _headers_of(exc)
        return classify_status(
            status,
            retry_after=parse_retry_after(headers),
            should_retry=parse_should_retry(headers),
        )
    name = type(exc).__name__
    if "Timeout" in name:
        return Classification(Outcome.FAILURE, True, "timeout", "timeout")
    if "Connection" in name:
        return Classification(Outcome.FAILURE, True, "connect", "error")
    return Classification(Outcome.FAILURE, False, name, "error")
