"""How one LLM call runs, from the concurrency limits to the attempt timeout::

    process limit → total deadline → fallback → provider limit → retry → breaker → attempt timeout

The order is the one Polly and resilience4j settled on.  The process-wide
concurrency limit is outermost so a queue of callers never eats into anyone's
deadline; each fallback target's provider limit is inside the deadline (see
:mod:`fastapi_sentient.llm._limits`); the breaker sits *inside* the retry loop so
every attempt is one breaker sample and a retry is rejected at once when the
circuit has opened meanwhile; an open-circuit rejection is never retried (the
next fallback target serves instead).  The per-attempt timeout is the
provider's timeout, cut to what is left of the deadline, so the attempt — not
the deadline — reports the timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import TypeVar

import httpx2

from fastapi_sentient.exceptions import LLMError
from fastapi_sentient.llm._breaker import BreakerConfig, CircuitBreaker, Permit, TransitionListener
from fastapi_sentient.llm._errors import (
    AllTargetsFailedError,
    PoolExhaustedError,
    ProviderTimeoutError,
)
from fastapi_sentient.llm._limits import CallLimits, Release
from fastapi_sentient.llm._metrics import LLMMetrics
from fastapi_sentient.llm._open_stream import OpenStream, StreamOpener
from fastapi_sentient.llm._outcome import SUCCESS, Outcome, classify
from fastapi_sentient.llm._provider import Operation, Target
from fastapi_sentient.llm._types import LLMResult, StreamEvent
from fastapi_sentient.resilience._budget import RetryBudget
from fastapi_sentient.resilience._retry import RetryPolicy, retrying
from fastapi_sentient.tracing._spans import llm_span, start_llm_span

T = TypeVar("T")
S = TypeVar("S")


class Pipeline:
    """Runs calls and streams against targets, with every resilience layer."""

    def __init__(
        self,
        *,
        metrics: LLMMetrics,
        policy: RetryPolicy,
        breaker_config: BreakerConfig,
        deadline: float,
        max_concurrency: int,
        queue_timeout: float,
        budget: Callable[[], RetryBudget],
        redact: Callable[[str], str],
        on_transition: TransitionListener,
    ) -> None:
        self.metrics = metrics
        self.policy = policy
        self.breaker_config = breaker_config
        self.deadline = deadline
        self.redact = redact
        self.limits = CallLimits(max_concurrency, queue_timeout, metrics)
        self._budget_factory = budget
        self._budgets: dict[str, RetryBudget] = {}
        self._on_transition = on_transition

    def breaker(self, target: Target) -> CircuitBreaker:
        """The breaker guarding ``target``."""
        return target.provider.breaker(target.model, self.breaker_config, self._on_transition)

    def _budget(self, provider: str) -> RetryBudget:
        budget = self._budgets.get(provider)
        if budget is None:
            budget = self._budgets[provider] = self._budget_factory()
        return budget

    async def _provider_slot(self, target: Target, deadline_at: float, *, last: bool) -> Release:
        """A slot of ``target``'s provider; only a call's ``last`` target waits for one."""
        breaker = self.breaker(target)
        return await self.limits.provider_slot(target, deadline_at, wait=last, breaker=breaker)

    async def _fallback(
        self,
        targets: list[Target],
        route: str | None,
        deadline_at: float,
        serve: Callable[[Target], Awaitable[S]],
    ) -> tuple[S, Release]:
        """What the first target to serve gave, in order, with its provider slot still held.

        A target that fails (or finds no free slot in time) hands the call to the
        next, counted as a fallback of ``route``; when none serves, the error
        names what each failed with.
        """
        errors: list[LLMError] = []
        for index, target in enumerate(targets):
            last = index == len(targets) - 1
            try:
                release = await self._provider_slot(target, deadline_at, last=last)
                try:
                    served = await serve(target)
                except BaseException:
                    release()
                    raise
            except LLMError as exc:
                errors.append(exc)
                if route is not None and not last:
                    self.metrics.fell_back(route, target, classify(exc).status)
                continue
            if route is not None:
                self.metrics.served_by(route, target)
            return served, release
        raise _final(route, errors)

    # --- whole answers ----------------------------------------------------------------------

    async def call(
        self, targets: list[Target], operation: Operation, route: str | None
    ) -> LLMResult:
        """The answer of the first target that serves, in order.

        ``operation(target)`` performs one attempt against ``target``: an adapter's
        ``complete`` for our own calls, an official SDK call for the SDK wrapper.
        """
        async with self.limits.process_slot():
            deadline_at = time.monotonic() + self.deadline
            result, release = await self._fallback(
                targets,
                route,
                deadline_at,
                lambda target: self._with_retries(target, operation, deadline_at),
            )
            release()
            return result

    async def _with_retries(
        self, target: Target, operation: Operation, deadline_at: float
    ) -> LLMResult:
        started = time.perf_counter()
        result, attempts = await self._retrying(
            target, lambda: self._attempt(target, operation, deadline_at), deadline_at
        )
        result.attempts = attempts
        result.duration = time.perf_counter() - started
        return result

    async def _retrying(
        self, target: Target, attempt: Callable[[], Awaitable[T]], deadline_at: float
    ) -> tuple[T, int]:
        """The resilience layer's retry loop, with this target's budget and metrics."""
        provider = target.provider.name
        label = target.provider.model_label(target.model)
        return await retrying(
            attempt,
            policy=self.policy,
            classify=classify,
            deadline_at=deadline_at,
            budget=self._budget(provider),
            retry_on=LLMError,
            on_retry=lambda verdict: self.metrics.retry(provider, label, verdict.error_type),
            on_budget_exhausted=self.metrics.budget_exhausted.labels(provider).inc,
        )

    def _admit(self, target: Target) -> tuple[CircuitBreaker, Permit]:
        breaker = self.breaker(target)
        try:
            return breaker, breaker.acquire()
        except LLMError as exc:
            self.metrics.record(target, classify(exc), None)
            raise

    async def _attempt(self, target: Target, operation: Operation, deadline_at: float) -> LLMResult:
        provider = target.provider
        breaker, permit = self._admit(target)
        limit = max(min(provider.attempt_timeout, deadline_at - time.monotonic()), 0.001)
        started = time.perf_counter()
        scope = asyncio.timeout(limit)
        try:
            with llm_span(
                provider.genai_name, target.model, server_address=provider.server_address
            ) as span:
                async with scope:
                    completion = await operation(target)
                span.record_response(
                    model=completion.response_model,
                    usage=completion.usage,
                    finish_reasons=[completion.finish_reason] if completion.finish_reason else None,
                )
        except BaseException as exc:
            error = self._failed(target, breaker, permit, exc, started, scope, limit)
            if error is exc:
                raise
            raise error from exc
        elapsed = time.perf_counter() - started
        breaker.record(permit, Outcome.SUCCESS, elapsed)
        cost = provider.prices.cost(target.model, completion.usage)
        self.metrics.record(target, SUCCESS, elapsed, completion.usage, cost)
        return LLMResult(
            text=completion.text,
            usage=completion.usage,
            cost_usd=cost,
            provider=provider.name,
            model=target.model,
            response_model=completion.response_model,
            finish_reason=completion.finish_reason,
            raw=completion.raw,
            tool_calls=list(completion.tool_calls),
            stop_reason=completion.stop_reason,
        )

    # --- streams ----------------------------------------------------------------------------

    async def stream(
        self, targets: list[Target], opener: StreamOpener, route: str | None
    ) -> AsyncGenerator[tuple[Target, StreamEvent]]:
        """Events of the first target whose stream opens; the deadline covers the first token.

        ``opener(target)`` opens one attempt's stream: a wire adapter's for our
        own streams, an official SDK's for the SDK wrapper.
        """
        async with self.limits.process_slot():
            deadline_at = time.monotonic() + self.deadline
            opened, release = await self._fallback(
                targets,
                route,
                deadline_at,
                lambda target: self._open_with_retries(target, opener, deadline_at),
            )
            try:
                async with aclosing(self._drain(opened)) as events:
                    async for event in events:
                        yield opened.target, event
            finally:
                release()

    async def _open_with_retries(
        self, target: Target, opener: StreamOpener, deadline_at: float
    ) -> OpenStream:
        opened, _ = await self._retrying(
            target, lambda: self._open(target, opener, deadline_at), deadline_at
        )
        return opened

    async def _open(self, target: Target, opener: StreamOpener, deadline_at: float) -> OpenStream:
        """One attempt at opening ``target``'s stream."""
        breaker, permit = self._admit(target)
        limit = max(min(target.provider.attempt_timeout, deadline_at - time.monotonic()), 0.001)
        started = time.perf_counter()
        scope = asyncio.timeout(limit)
        provider = target.provider
        span = start_llm_span(
            provider.genai_name, target.model, server_address=provider.server_address, stream=True
        )
        try:
            with span.current():
                async with scope:
                    opened = await opener(target)
        except BaseException as exc:
            span.end(exc)
            failure = self._failed(target, breaker, permit, exc, started, scope, limit)
            if failure is exc:
                raise
            raise failure from exc
        opened.breaker, opened.permit, opened.started = breaker, permit, started
        opened.span = span
        return opened

    async def _drain(self, opened: OpenStream) -> AsyncGenerator[StreamEvent]:
        target = opened.target
        assert opened.breaker is not None
        assert opened.permit is not None
        try:
            async with aclosing(opened.events()) as events:
                async for event in events:
                    if opened.first_text_at is not None and not opened.ttft_recorded:
                        opened.ttft_recorded = True
                        self.metrics.first_token(target, opened.first_text_at - opened.started)
                    yield event
        except BaseException as exc:
            verdict = classify(asyncio.CancelledError() if isinstance(exc, GeneratorExit) else exc)
            elapsed = time.perf_counter() - opened.started
            opened.breaker.record(opened.permit, verdict.outcome, elapsed)
            self.metrics.record(target, verdict, elapsed)
            opened.span.end(None if isinstance(exc, GeneratorExit) else exc)
            raise
        finally:
            await opened.aclose()
        elapsed = time.perf_counter() - opened.started
        opened.breaker.record(opened.permit, Outcome.SUCCESS, elapsed)
        usage = opened.usage
        cost = target.provider.prices.cost(target.model, usage)
        opened.cost = cost
        self.metrics.record(target, SUCCESS, elapsed, usage, cost)
        opened.span.record_response(
            model=opened.response_model,
            usage=usage,
            finish_reasons=[opened.finish_reason] if opened.finish_reason else None,
        )
        opened.span.end()

    # --- bookkeeping ------------------------------------------------------------------------

    def _failed(
        self,
        target: Target,
        breaker: CircuitBreaker,
        permit: Permit,
        exc: BaseException,
        started: float,
        scope: asyncio.Timeout,
        limit: float,
    ) -> BaseException:
        """Record a failed attempt; return the exception to raise in its place."""
        name = target.provider.name
        elapsed = time.perf_counter() - started
        error: BaseException = exc
        if isinstance(exc, TimeoutError) and scope.expired():
            msg = f"{name} did not answer within {limit:.2f}s"
            error = ProviderTimeoutError(msg, provider=name, model=target.model)
        elif isinstance(exc, httpx2.PoolTimeout):
            error = PoolExhaustedError(self.redact(str(exc)), provider=name, model=target.model)
        verdict = classify(error)
        breaker.record(permit, verdict.outcome, elapsed)
        if verdict.outcome == Outcome.THROTTLED and verdict.retry_after:
            breaker.throttle(min(verdict.retry_after, self.policy.retry_after_cap))
        self.metrics.record(target, verdict, elapsed)
        return error


def _final(route: str | None, errors: list[LLMError]) -> LLMError:
    if len(errors) == 1:
        return errors[0]
    return AllTargetsFailedError(route or "call", errors)
