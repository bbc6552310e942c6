"""Errors of the resilience layer: a call refused or cut short *before* it could fail on its own.

Each one tells the caller when trying again makes sense::

    ResilienceError
    ├── CircuitOpenError        the breaker is open: no call was made (``retry_after``)
    ├── ThrottledError          the dependency asked us to wait (429 / Retry-After)
    ├── BulkheadFullError       the policy's concurrency limit is full
    └── DeadlineExceededError   the call's deadline passed (also a ``TimeoutError``)

Unhandled in a route, the first three are answered ``503`` with ``Retry-After`` and
the last ``504`` (see :mod:`fastapi_sentient.resilience._handlers`).  The LLM layer
raises subclasses that are also :class:`~fastapi_sentient.exceptions.LLMError`.
"""

from __future__ import annotations

from fastapi_sentient.exceptions import SentientError


class ResilienceError(SentientError):
    """A policy refused a call or cut it short."""

    retry_after: float | None = None


class CircuitOpenError(ResilienceError):
    """The circuit breaker ``name`` rejected the call without contacting the dependency.

    ``retry_after`` is how long until the breaker lets a probe through.
    """

    def __init__(self, name: str, retry_after: float, message: str | None = None) -> None:
        super().__init__(
            message
            or f"circuit {name} is open; no call was made (next probe in {retry_after:.1f}s)"
        )
        self.name = name
        self.retry_after = retry_after


class ThrottledError(ResilienceError):
    """The dependency is rate limiting us; ``retry_after`` says for how long, when it said."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BulkheadFullError(ResilienceError):
    """Every slot of a concurrency limit was taken and none came free in time."""


class DeadlineExceededError(ResilienceError, TimeoutError):
    """The call's total deadline (retries included) passed before it finished."""
