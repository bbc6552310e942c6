"""Errors of the LLM layer.

Every error carries the provider (and model, where known) so a caller with a
fallback chain can tell who failed, and none ever carries the API key: provider
answers are passed through the plugin's redactor before they become messages::

    LLMError
    ├── NoProviderError             nothing configured for the requested provider/model
    ├── CircuitOpenError            rejected at once: the breaker is open (no provider call)
    ├── ThrottledError              the provider asked us to wait (429 / Retry-After)
    ├── ProviderError               the provider answered with an error status or a broken body
    ├── ProviderTimeoutError        an attempt or the whole call ran out of time
    ├── ProviderConnectionError     the provider could not be reached
    ├── PoolExhaustedError          no free connection in the provider's HTTP pool (local)
    ├── RetryBudgetExhaustedError   retries are above their share of traffic; failing fast
    ├── ConcurrencyLimitError       too many LLM calls in flight (in this process, or to a provider)
    ├── UnsupportedRequestError     a target's wire format cannot express the request (nothing sent)
    └── AllTargetsFailedError       every provider of a fallback route failed

``CircuitOpenError``, ``ThrottledError`` and ``ConcurrencyLimitError`` are also the
resilience layer's errors of the same meaning (:mod:`fastapi_sentient.resilience._errors`),
so one ``except CircuitOpenError`` (and one 503 handler) serves every dependency.
"""

from __future__ import annotations

from fastapi_sentient.exceptions import LLMError
from fastapi_sentient.resilience import _errors as resilience


class NoProviderError(LLMError, LookupError):
    """No provider (or route) matches the request."""


class UnsupportedRequestError(LLMError, ValueError):
    """A target's wire format cannot express part of the request; nothing was sent.

    Raised before the first request of a call when any of its targets (a route's
    fallbacks included) would have to drop or guess something: a content part,
    a tool or an option with no equivalent in that format.
    """

    def __init__(self, message: str, *, provider: str, model: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model


class _TargetError(LLMError):
    """An error tied to one provider/model target."""

    def __init__(self, message: str, *, provider: str, model: str | None = None) -> None:
        # not super(): the resilience bases of some subclasses take other arguments
        Exception.__init__(self, message)
        self.provider = provider
        self.model = model


class CircuitOpenError(_TargetError, resilience.CircuitOpenError):
    """The circuit breaker rejected the call without contacting the provider.

    ``retry_after`` is how long until the breaker lets a probe through.
    """

    def __init__(self, name: str, retry_after: float, *, provider: str, model: str | None) -> None:
        super().__init__(
            f"circuit {name} is open; no call was made (next probe in {retry_after:.1f}s)",
            provider=provider,
            model=model,
        )
        self.name = name
        self.retry_after = retry_after


class ThrottledError(_TargetError, resilience.ThrottledError):
    """The provider is rate limiting us; ``retry_after`` says for how long, when it said."""

    def __init__(
        self, message: str, *, provider: str, model: str | None, retry_after: float | None
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.retry_after = retry_after


class ProviderError(_TargetError):
    """The provider answered with an error: ``status`` is the HTTP status (or 200 with an error body)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str | None,
        status: int,
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.status = status
        self.retry_after = retry_after
        self.should_retry = should_retry


class ProviderTimeoutError(_TargetError, TimeoutError):
    """An attempt, or the call's total deadline, ran out."""


class ProviderConnectionError(_TargetError, ConnectionError):
    """The provider could not be reached (DNS, refused, reset, broken stream)."""


class PoolExhaustedError(_TargetError, TimeoutError):
    """The provider's HTTP pool had no free connection in time: local congestion, not an outage."""


class RetryBudgetExhaustedError(_TargetError):
    """A retry was due but retries already exceed their budgeted share of calls."""


class ConcurrencyLimitError(LLMError, resilience.BulkheadFullError):
    """No call slot became free in time.

    ``provider`` is None for the process-wide ``SENTIENT_LLM_MAX_CONCURRENCY``
    (waited for up to ``SENTIENT_LLM_QUEUE_TIMEOUT``), else the provider whose
    ``max_concurrency`` was full until the call's deadline.
    """

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class AllTargetsFailedError(LLMError):
    """Every target of a fallback route failed; ``errors`` lists each in order."""

    def __init__(self, route: str, errors: list[LLMError]) -> None:
        parts = "; ".join(str(e) for e in errors)
        super().__init__(f"every target of {route!r} failed: {parts}")
        self.route = route
        self.errors = errors
