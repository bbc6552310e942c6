"""Retry policy and the one retry loop of the codebase.

Every retried call — an LLM attempt, a stream opening, a guarded function, a
named HTTP client's request — goes through :func:`retrying`.  The official LLM
SDKs retry on their own by default; stacking our loop on theirs multiplies the
attempts, so the SDK clients we build get ``max_retries=0``.  Backoff is exponential with
full jitter; a dependency's Retry-After wins when it is within
``retry_after_cap`` (a longer ask fails at once instead of parking the request),
and no retry starts that could not finish its wait before the call's deadline.
Retries are also charged to a :class:`~fastapi_sentient.resilience._budget.RetryBudget`,
so a failing dependency receives at most a bounded share of extra traffic instead
of ``attempts ×`` the load.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi_sentient.resilience._budget import RetryBudget
from fastapi_sentient.resilience._outcome import Classification

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts."""

    attempts: int = 3
    """Total attempts per call, the first included (1 = no retries)."""
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 30.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            msg = "retry attempts must be >= 1"
            raise ValueError(msg)
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            msg = "retry delays must satisfy 0 <= base_delay <= max_delay"
            raise ValueError(msg)

    def backoff(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """Delay before retry ``retry_number`` (1-based): full-jitter exponential."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry_number - 1))
        return ceiling * rng() if self.jitter else ceiling

    def delay(self, retry_number: int, retry_after: float | None) -> float | None:
        """The wait before the next attempt, or None when Retry-After exceeds the cap."""
        if retry_after is not None:
            if retry_after > self.retry_after_cap:
                return None
            return retry_after
        return self.backoff(retry_number)


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    classify: Callable[[BaseException], Classification],
    deadline_at: float = float("inf"),
    budget: RetryBudget | None = None,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    on_retry: Callable[[Classification], None] | None = None,
    on_budget_exhausted: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """Run ``attempt`` until it succeeds or no retry is due; returns (result, attempts made).

    An exception of ``retry_on`` is retried when ``classify`` calls it retryable,
    attempts are left, the wait ends before ``deadline_at`` (``time.monotonic``)
    and ``budget`` grants the retry; otherwise it propagates unchanged.  Other
    exceptions (cancellation included) propagate at once.
    """
    if budget is not None:
        budget.deposit()
    attempts = 0
    while True:
        attempts += 1
        try:
            return await attempt(), attempts
        except retry_on as exc:
            verdict = classify(exc)
            if not verdict.retryable or attempts >= policy.attempts:
                raise
            delay = policy.delay(attempts, verdict.retry_after)
            if delay is None or delay >= deadline_at - time.monotonic():
                raise
            if budget is not None and not budget.try_withdraw():
                if on_budget_exhausted is not None:
                    on_budget_exhausted()
                raise
            if on_retry is not None:
                on_retry(verdict)
        await asyncio.sleep(delay)
