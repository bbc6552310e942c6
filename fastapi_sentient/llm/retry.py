"""Retry policy and retry budget: the one retry loop of an LLM call.

The official SDKs retry twice by default; stacking our loop on theirs turns 3
attempts into 9.  So there is exactly one loop — ours — and the SDK clients we
build get ``max_retries=0``.  Backoff is exponential with full jitter; a
provider's Retry-After wins when it is within ``retry_after_cap`` (a longer ask
fails at once instead of parking the request).  Retries are also charged to a
:class:`RetryBudget`, so a failing provider receives at most a bounded share of
extra traffic instead of ``attempts ×`` the load.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


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


class RetryBudget:
    """Retries may be at most ``ratio`` of recent calls, plus a small floor.

    Over the last ``ttl`` seconds a retry is allowed while
    ``retries < min_per_second × ttl + ratio × calls`` (Finagle's and tower's
    budget).  With ratio 0.2, a provider failing every call sees about 1.2× its
    normal traffic instead of ``attempts ×``.
    """

    def __init__(
        self,
        ratio: float = 0.2,
        *,
        min_per_second: float = 1.0,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ratio < 0 or min_per_second < 0 or ttl <= 0:
            msg = "retry budget ratio and min_per_second must be >= 0 and ttl > 0"
            raise ValueError(msg)
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.ttl = ttl
        self._clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _prune(self, now: float) -> None:
        horizon = now - self.ttl
        for stamps in (self._calls, self._retries):
            while stamps and stamps[0] < horizon:
                stamps.popleft()

    def deposit(self) -> None:
        """A first attempt happened."""
        now = self._clock()
        self._prune(now)
        self._calls.append(now)

    def try_withdraw(self) -> bool:
        """Spend one retry if the budget allows it."""
        now = self._clock()
        self._prune(now)
        allowed = self.min_per_second * self.ttl + self.ratio * len(self._calls)
        if len(self._retries) + 1 > allowed:
            return False
        self._retries.append(now)
        return True

    @property
    def balance(self) -> float:
        """Retries still allowed in the current window."""
        now = self._clock()
        self._prune(now)
        return self.min_per_second * self.ttl + self.ratio * len(self._calls) - len(self._retries)
