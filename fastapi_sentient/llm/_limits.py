"""Concurrency limits of LLM calls: one gate for the process, one per provider.

The process gate (``SENTIENT_LLM_MAX_CONCURRENCY``) is outermost: a caller
queues for it up to ``SENTIENT_LLM_QUEUE_TIMEOUT`` before its deadline starts,
so a crowd of callers never eats into anyone's deadline.  The provider gate (a
provider's ``max_concurrency``, by default its pool size) is taken per fallback
target *inside* the deadline: one slow provider cannot hold every process slot,
its callers queue here rather than in the HTTP pool (whose timeout would fail
them as "pool exhausted"), and the wait spends the call's own time, so a caller
never waits longer than its deadline in all.  Only a call's last target
waits: earlier targets of a route that are full are skipped at once, so a
saturated provider spills its load over to the route's next one.  A slot is held for all attempts
at one target and, for streams, until the stream ends: that is how long the
provider works on the call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import NoReturn

from fastapi_sentient.llm._breaker import BreakerState, CircuitBreaker
from fastapi_sentient.llm._errors import CircuitOpenError, ConcurrencyLimitError
from fastapi_sentient.llm._metrics import LLMMetrics
from fastapi_sentient.llm._outcome import classify
from fastapi_sentient.llm._provider import Target
from fastapi_sentient.resilience._bulkhead import Gate

Release = Callable[[], None]


def _noop() -> None:
    return None


class CallLimits:
    """The process gate and the providers' gates, with waiting and in-flight gauges."""

    def __init__(self, max_concurrency: int, queue_timeout: float, metrics: LLMMetrics) -> None:
        self.queue_timeout = queue_timeout
        self.metrics = metrics
        self._process = Gate(max_concurrency)

    @asynccontextmanager
    async def process_slot(self) -> AsyncIterator[None]:
        """Hold one of the process's call slots for the block."""
        try:
            await self._process.acquire(self.queue_timeout)
        except TimeoutError:
            msg = (
                f"{self._process.in_use} LLM calls already in flight; none finished within "
                f"{self.queue_timeout:g}s (SENTIENT_LLM_MAX_CONCURRENCY, SENTIENT_LLM_QUEUE_TIMEOUT)"
            )
            raise ConcurrencyLimitError(msg) from None
        try:
            yield
        finally:
            self._process.release()

    @staticmethod
    def provider_full(target: Target) -> bool:
        """Whether a call to ``target`` would have to queue for its provider's gate."""
        gate = target.provider.gate
        return gate is not None and (gate.in_use >= gate.capacity or gate.waiting > 0)

    async def provider_slot(
        self, target: Target, deadline_at: float, *, wait: bool, breaker: CircuitBreaker
    ) -> Release:
        """Take a slot of ``target``'s provider, waiting until ``deadline_at`` at most.

        With ``wait`` false a full provider fails at once (a route's next target
        can serve instead of this caller queueing).  A full provider whose
        ``breaker`` is open rejects at once too: queueing only to be refused by
        the breaker would waste the caller's deadline.  Returns the function
        that gives the slot back.

        Raises:
            ConcurrencyLimitError: no slot came free in time (recorded as a
                ``rejected`` attempt that never reached the provider).
            CircuitOpenError: the provider is full and the breaker open.
        """
        provider = target.provider
        gate = provider.gate
        if gate is None:
            return _noop
        full = self.provider_full(target)
        if full and breaker.state == BreakerState.OPEN:
            error = CircuitOpenError(
                breaker.name, breaker.retry_after(), provider=provider.name, model=breaker.model
            )
            self.metrics.record(target, classify(error), None)
            raise error
        if full and not wait:
            self._reject(target, gate, " (max_concurrency in SENTIENT_LLM_PROVIDERS)")
        # only a caller that has to queue shows in the gauge
        waiting = self.metrics.waiting.labels(provider.name) if full else None
        if waiting is not None:
            waiting.inc()
        try:
            await gate.acquire(max(deadline_at - time.monotonic(), 0.0))
        except TimeoutError:
            self._reject(
                target,
                gate,
                "; none finished before the call's deadline "
                "(max_concurrency in SENTIENT_LLM_PROVIDERS, SENTIENT_LLM_DEADLINE)",
            )
        finally:
            if waiting is not None:
                waiting.dec()
        in_flight = self.metrics.in_flight.labels(provider.name)
        in_flight.inc()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                in_flight.dec()
                gate.release()

        return release

    def _reject(self, target: Target, gate: Gate, why: str) -> NoReturn:
        name = target.provider.name
        msg = f"{gate.in_use} calls to LLM provider {name!r} already in flight{why}"
        error = ConcurrencyLimitError(msg, provider=name)
        self.metrics.record(target, classify(error), None)
        raise error from None
