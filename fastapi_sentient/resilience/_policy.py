"""A named policy: how every call to one dependency runs::

    bulkhead → deadline → retry (with budget) → breaker → attempt timeout

The order is the one Polly and resilience4j settled on (and the LLM pipeline
uses): the concurrency limit is outermost so a queue of callers never eats into
anyone's deadline; the breaker sits *inside* the retry loop so every attempt is
one breaker sample and a retry is refused at once when the circuit has opened
meanwhile; an open-circuit refusal is never retried.  Each attempt's time limit
is its own timeout cut to what is left of the deadline: a hanging dependency is
cut when the caller's time is up, with :class:`DeadlineExceededError`.

A call's result can be judged too (a named HTTP client's 503 is an answer, not an
exception): a failed result is a breaker sample and is retried like an error,
and when no retry is due the last result is returned as it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from fastapi_sentient.resilience._breaker import (
    BreakerConfig,
    CircuitBreaker,
    Permit,
    TransitionListener,
)
from fastapi_sentient.resilience._budget import RetryBudget
from fastapi_sentient.resilience._bulkhead import Bulkhead
from fastapi_sentient.resilience._deadline import MIN_ATTEMPT, Deadline
from fastapi_sentient.resilience._errors import DeadlineExceededError
from fastapi_sentient.resilience._metrics import ResilienceMetrics
from fastapi_sentient.resilience._outcome import (
    REJECTED,
    SUCCESS,
    Classification,
    Outcome,
    classify,
    status_class,
    status_of,
)
from fastapi_sentient.resilience._retry import RetryPolicy, retrying
from fastapi_sentient.settings import PolicySettings

T = TypeVar("T")
R = TypeVar("R")

ONCE = RetryPolicy(attempts=1)

Judge = Callable[[T], tuple[Classification, int | None]]
"""Turns a call's result into (verdict, HTTP status or None)."""


class FailedResult(Exception, Generic[R]):
    """A result judged as failed, carried through the retry loop (never escapes a policy)."""

    def __init__(self, result: R, verdict: Classification, status: int | None) -> None:
        super().__init__(verdict.error_type)
        self.result = result
        self.verdict = verdict
        self.status = status


def breaker_config(settings: PolicySettings) -> BreakerConfig:
    """The breaker part of ``settings`` (the window is widened to hold ``minimum_calls``)."""
    return BreakerConfig(
        failure_rate_threshold=settings.failure_rate,
        slow_call_rate_threshold=settings.slow_call_rate,
        slow_call_duration=settings.slow_call_duration,
        window_size=max(settings.window_size, settings.minimum_calls),
        window_seconds=settings.window_seconds,
        minimum_calls=settings.minimum_calls,
        open_duration=settings.open_duration,
        half_open_calls=settings.half_open_calls,
        half_open_max_wait=settings.half_open_max_wait,
    )


def retry_policy(settings: PolicySettings) -> RetryPolicy:
    """The retry part of ``settings`` (the largest backoff is at least the first)."""
    return RetryPolicy(
        attempts=settings.attempts,
        base_delay=settings.base_delay,
        max_delay=max(settings.max_delay, settings.base_delay),
        retry_after_cap=settings.retry_after_cap,
    )


def retry_budget(settings: PolicySettings) -> RetryBudget:
    """A budget of its own for one dependency, from ``settings``."""
    return RetryBudget(settings.budget_ratio, min_per_second=settings.budget_min_per_second)


class Policy:
    """Breaker, retries with a budget, deadline and bulkhead for one named dependency."""

    def __init__(
        self,
        name: str,
        settings: PolicySettings,
        *,
        metrics: ResilienceMetrics,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.metrics = metrics
        self.breaker: CircuitBreaker | None = (
            CircuitBreaker(name, breaker_config(settings), on_transition=on_transition)
            if settings.breaker
            else None
        )
        self.retry = retry_policy(settings)
        self.budget = retry_budget(settings)
        self.bulkhead = (
            Bulkhead(
                name,
                settings.max_concurrency,
                max_wait=settings.max_wait,
                on_reject=self._rejected,
            )
            if settings.max_concurrency is not None
            else None
        )

    # --- whole calls (retried) -------------------------------------------------------------

    async def call(
        self, fn: Callable[[], Awaitable[T]], *, judge: Judge[T] | None = None, retry: bool = True
    ) -> T:
        """Run ``fn()`` under the policy, retrying it as the policy allows (``retry`` false: once).

        Raises:
            CircuitOpenError: the breaker refused the call (no attempt was made).
            BulkheadFullError: ``max_concurrency`` calls were already in flight.
            DeadlineExceededError: the deadline passed during an attempt.
            ThrottledError: the dependency's Retry-After has not passed yet.
            Exception: the last attempt's own error when no retry was due.
        """
        deadline = Deadline(self.settings.deadline)
        async with self._slot(deadline):
            try:
                result, _ = await retrying(
                    lambda: self._attempt(fn, deadline, judge),
                    policy=self.retry if retry else ONCE,
                    classify=self.classify,
                    deadline_at=deadline.at,
                    budget=self.budget,
                    on_retry=self._retried,
                    on_budget_exhausted=self.metrics.budget_exhausted.labels(self.name).inc,
                )
            except FailedResult as failed:
                return failed.result  # type: ignore[no-any-return]
        return result

    async def _attempt(
        self, fn: Callable[[], Awaitable[T]], deadline: Deadline, judge: Judge[T] | None
    ) -> T:
        permit = self._admit()
        limit = deadline.attempt_timeout(self.settings.attempt_timeout)
        started = time.perf_counter()
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                result = await fn()
        except BaseException as exc:
            error = self._failed(permit, exc, started, scope, deadline, limit)
            if error is exc:
                raise
            raise error from exc
        verdict, status = judge(result) if judge is not None else (SUCCESS, None)
        self._record(permit, verdict, status, time.perf_counter() - started)
        if verdict.outcome != Outcome.SUCCESS:
            raise FailedResult(result, verdict, status)
        return result

    # --- blocks (not retried: a block cannot be run twice) ---------------------------------

    @asynccontextmanager
    async def block(self) -> AsyncIterator[None]:
        """Run the block under the bulkhead, the breaker and the deadline (no retries)."""
        deadline = Deadline(self.settings.deadline)
        async with self._slot(deadline):
            permit = self._admit()
            limit = deadline.attempt_timeout(self.settings.attempt_timeout)
            started = time.perf_counter()
            scope = asyncio.timeout(limit)
            try:
                async with scope:
                    yield
            except BaseException as exc:
                error = self._failed(permit, exc, started, scope, deadline, limit)
                if error is exc:
                    raise
                raise error from exc
            self._record(permit, SUCCESS, None, time.perf_counter() - started)

    # --- parts -----------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> Classification:
        """The verdict on an attempt's exception (a judged result carries its own)."""
        if isinstance(exc, FailedResult):
            return exc.verdict
        return classify(exc)

    @asynccontextmanager
    async def _slot(self, deadline: Deadline) -> AsyncIterator[None]:
        if self.bulkhead is None:
            yield
            return
        async with self.bulkhead.slot(deadline.remaining()):
            yield

    def _rejected(self) -> None:
        self.metrics.bulkhead_rejections.labels(self.name).inc()
        self.metrics.attempt(self.name, REJECTED, "none", None)

    def _retried(self, verdict: Classification) -> None:
        self.metrics.retries.labels(self.name, verdict.error_type).inc()

    def _admit(self) -> Permit | None:
        if self.breaker is None:
            return None
        try:
            return self.breaker.acquire()
        except Exception as exc:
            self.metrics.attempt(self.name, self.classify(exc), "none", None)
            raise

    def _failed(
        self,
        permit: Permit | None,
        exc: BaseException,
        started: float,
        scope: asyncio.Timeout,
        deadline: Deadline,
        limit: float | None,
    ) -> BaseException:
        """Record a failed attempt; return the exception to raise in its place."""
        error = exc
        if isinstance(exc, TimeoutError) and scope.expired():
            if deadline.remaining() <= MIN_ATTEMPT:
                msg = f"{self.name}: deadline of {deadline.seconds:g}s passed"
                error = DeadlineExceededError(msg)
            else:
                error = TimeoutError(f"{self.name}: attempt timed out after {limit or 0:.2f}s")
        self._record(permit, self.classify(error), status_of(exc), time.perf_counter() - started)
        return error

    def _record(
        self, permit: Permit | None, verdict: Classification, status: int | None, elapsed: float
    ) -> None:
        breaker = self.breaker
        if breaker is not None and permit is not None:
            breaker.record(permit, verdict.outcome, elapsed)
            if verdict.outcome == Outcome.THROTTLED and verdict.retry_after:
                breaker.throttle(min(verdict.retry_after, self.retry.retry_after_cap))
        self.metrics.attempt(self.name, verdict, status_class(status), elapsed)
