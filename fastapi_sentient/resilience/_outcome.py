"""What one attempt means: a breaker sample, whether to retry, and its metric labels.

The breaker counts *availability*, so only the dependency's own failures trip
it: connect errors, timeouts, 5xx and 529.  Client errors (400, 401, 404, 422
...) are the caller's problem and neither trip it nor retry.  429 is its own
outcome, "throttled": retried after Retry-After, never an availability failure.
Cancellation (a client disconnect, a drain) is neither success nor failure.
Exceptions of HTTP libraries are read by shape (``status_code``,
``response.headers``, the class hierarchy's names), so this module imports no
HTTP client and the core stays free of the optional extras.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from fastapi_sentient.exceptions import PoolTimeoutError
from fastapi_sentient.resilience._errors import (
    BulkheadFullError,
    CircuitOpenError,
    DeadlineExceededError,
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
    """The outcome label of ``llm_requests_total`` and ``dependency_requests_total``:
    success, error, client_error, throttled, timeout, circuit_open, rejected, cancelled."""
    retry_after: float | None = None


SUCCESS = Classification(Outcome.SUCCESS, retryable=False, error_type="", status="success")
CANCELLED = Classification(Outcome.CANCELLED, False, "cancelled", "cancelled")
CIRCUIT_OPEN = Classification(Outcome.IGNORED, False, "circuit_open", "circuit_open")
REJECTED = Classification(Outcome.IGNORED, False, "rejected", "rejected")
POOL_TIMEOUT = Classification(Outcome.IGNORED, False, "pool_timeout", "timeout")
TIMEOUT = Classification(Outcome.FAILURE, True, "timeout", "timeout")
CONNECT = Classification(Outcome.FAILURE, True, "connect", "error")


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
    """The dependency's own verdict from ``x-should-retry``, when it sends one."""
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


def classify_response(status: int, headers: Mapping[str, str] | None) -> Classification:
    """Classify an HTTP answer: below 400 a success, else by :func:`classify_status`."""
    if status < 400:
        return SUCCESS
    return classify_status(
        status,
        retry_after=parse_retry_after(headers),
        should_retry=parse_should_retry(headers),
    )


def status_class(status: int | None) -> str:
    """``2xx`` … ``5xx`` for an HTTP status, ``none`` when no response came back."""
    if status is None or not 100 <= status <= 599:
        return "none"
    return f"{status // 100}xx"


def headers_of(exc: BaseException) -> Mapping[str, str] | None:
    """The response headers an HTTP library's exception carries, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping) else None


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (``status_code``, or its ``response``'s)."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _http_library_kind(exc: BaseException) -> str | None:
    """``pool``, ``timeout`` or ``transport`` for httpx/httpx2/httpcore errors, by class name."""
    names = {
        cls.__name__
        for cls in type(exc).__mro__
        if cls.__module__.split(".")[0].startswith(("httpx", "httpcore"))
    }
    if not names:
        return None
    if "PoolTimeout" in names:
        return "pool"
    if names & {"TimeoutException", "ConnectTimeout", "ReadTimeout", "WriteTimeout"}:
        return "timeout"
    if names & {"TransportError", "NetworkError", "ProtocolError", "ConnectError", "ReadError"}:
        return "transport"
    return None


def classify(exc: BaseException) -> Classification:
    """Classify an exception raised by an attempt against any dependency."""
    if isinstance(exc, asyncio.CancelledError):
        return CANCELLED
    if isinstance(exc, CircuitOpenError):
        return CIRCUIT_OPEN
    if isinstance(exc, BulkheadFullError):
        return REJECTED
    if isinstance(exc, ThrottledError):
        return Classification(Outcome.THROTTLED, True, "429", "throttled", exc.retry_after)
    if isinstance(exc, DeadlineExceededError):
        return Classification(Outcome.FAILURE, False, "timeout", "timeout")
    kind = _http_library_kind(exc)
    # Our own pool being full is local congestion, not the dependency's fault:
    # neither a breaker failure nor worth retrying (that would add load).
    if kind == "pool" or isinstance(exc, PoolTimeoutError):
        return POOL_TIMEOUT
    if kind == "timeout" or isinstance(exc, TimeoutError):
        return TIMEOUT
    if kind == "transport" or isinstance(exc, ConnectionError):
        return CONNECT
    status = status_of(exc)
    if status is not None:
        headers = headers_of(exc)
        return classify_status(
            status,
            retry_after=parse_retry_after(headers),
            should_retry=parse_should_retry(headers),
        )
    name = type(exc).__name__
    if "Timeout" in name:
        return TIMEOUT
    if "Connection" in name:
        return CONNECT
    return Classification(Outcome.FAILURE, False, name, "error")
