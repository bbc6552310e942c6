"""The retry budget: retries may be at most a share of recent calls.

Per-call attempt limits do not bound the load a failing dependency sees — every
caller retries.  A budget shared by all calls to one dependency does: over a
sliding window, retries are allowed only up to a ratio of first attempts (plus a
small floor so a quiet service can still retry).  This is Finagle's and tower's
``RetryBudget``; gRPC's retry throttling and the AWS SDKs' token bucket are the
same idea.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RetryBudget:
    """Retries may be at most ``ratio`` of recent calls, plus a small floor.

    Over the last ``ttl`` seconds a retry is allowed while
    ``retries < min_per_second × ttl + ratio × calls`` (Finagle's and tower's
    budget).  With ratio 0.2 and no floor, a dependency failing every call sees
    at most 1.2× its normal traffic instead of ``attempts ×``.
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
