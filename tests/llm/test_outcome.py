"""Outcome classification: breaker sample, retryability and labels per status and exception."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from fastapi_sentient.llm._errors import CircuitOpenError, ProviderError, ThrottledError
from fastapi_sentient.llm._outcome import (
    Outcome,
    classify,
    classify_status,
    parse_retry_after,
    parse_should_retry,
)


@pytest.mark.parametrize(
    ("status", "outcome", "retryable", "label"),
    [
        (500, Outcome.FAILURE, True, "error"),
        (502, Outcome.FAILURE, True, "error"),
        (503, Outcome.FAILURE, True, "error"),
        (529, Outcome.FAILURE, True, "error"),
        (501, Outcome.FAILURE, False, "error"),
        (408, Outcome.FAILURE, True, "error"),
        (429, Outcome.THROTTLED, True, "throttled"),
        (400, Outcome.IGNORED, False, "client_error"),
        (401, Outcome.IGNORED, False, "client_error"),
        (403, Outcome.IGNORED, False, "client_error"),
        (404, Outcome.IGNORED, False, "client_error"),
        (422, Outcome.IGNORED, False, "client_error"),
        (409, Outcome.IGNORED, True, "client_error"),
    ],
)
def test_status_table(status: int, outcome: Outcome, retryable: bool, label: str) -> None:
    """5xx/529/408 trip and retry, 4xx do neither, 429 is throttled and retried."""
    verdict = classify_status(status)
    assert (verdict.outcome, verdict.retryable, verdict.status) == (outcome, retryable, label)
    assert verdict.error_type == str(status)


def test_provider_verdict_header_overrides_retry() -> None:
    """x-should-retry: false stops a retry a 503 would otherwise get."""
    assert classify_status(503, should_retry=False).retryable is False
    assert parse_should_retry({"X-Should-Retry": "true"}) is True


@pytest.mark.parametrize(
    ("exc", "outcome", "retryable", "error_type"),
    [
        (httpx2.ConnectError("refused"), Outcome.FAILURE, True, "connect"),
        (httpx2.ReadTimeout("slow"), Outcome.FAILURE, True, "timeout"),
        (httpx2.PoolTimeout("full"), Outcome.IGNORED, False, "pool_timeout"),
        (asyncio.CancelledError(), Outcome.CANCELLED, False, "cancelled"),
        (
            CircuitOpenError("c", 1.0, provider="p", model="m"),
            Outcome.IGNORED,
            False,
            "circuit_open",
        ),
        (
            ThrottledError("t", provider="p", model="m", retry_after=2.0),
            Outcome.THROTTLED,
            True,
            "429",
        ),
        (ProviderError("e", provider="p", model="m", status=529), Outcome.FAILURE, True, "529"),
        (ValueError("bug"), Outcome.FAILURE, False, "ValueError"),
    ],
)
def test_exception_table(
    exc: BaseException, outcome: Outcome, retryable: bool, error_type: str
) -> None:
    """Transport errors trip, our pool's exhaustion and cancellation do not, open circuits never retry."""
    verdict = classify(exc)
    assert (verdict.outcome, verdict.retryable, verdict.error_type) == (
        outcome,
        retryable,
        error_type,
    )


def test_sdk_shaped_exceptions_are_classified_by_shape() -> None:
    """An SDK error with status_code and response headers reads like our own."""

    class APIStatusError(Exception):
        def __init__(self) -> None:
            super().__init__("overloaded")
            self.status_code = 429
            self.response = httpx2.Response(429, headers={"retry-after-ms": "250"})

    class APITimeoutError(Exception):
        pass

    verdict = classify(APIStatusError())
    assert (verdict.outcome, verdict.retry_after) == (Outcome.THROTTLED, 0.25)
    assert classify(APITimeoutError()).error_type == "timeout"


def test_retry_after_forms() -> None:
    """retry-after-ms wins, then seconds, then an HTTP date; garbage is ignored."""
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after(None) is None
