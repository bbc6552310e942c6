"""The deadline of one call: retries, waits and attempts all spend the same time.

A per-attempt timeout alone lets ``attempts × timeout`` (plus backoff) pass
before a caller hears back; a deadline bounds the whole call.  Each attempt gets
the smaller of its own timeout and what is left, so a hanging dependency is cut
when the caller's time is up, and no retry starts whose wait would outlast it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

MIN_ATTEMPT = 0.001


class Deadline:
    """A point on the monotonic clock ``seconds`` from now (``None``: no deadline)."""

    __slots__ = ("_clock", "at", "seconds")

    def __init__(
        self, seconds: float | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.seconds = seconds
        self.at = math.inf if seconds is None else clock() + seconds

    def remaining(self) -> float:
        """Seconds left (never negative; ``inf`` without a deadline)."""
        return max(self.at - self._clock(), 0.0)

    @property
    def expired(self) -> bool:
        """Whether the time is up."""
        return self._clock() >= self.at

    def attempt_timeout(self, timeout: float | None) -> float | None:
        """The limit of the next attempt: ``timeout`` cut to the time left (None: no limit)."""
        left = self.remaining()
        limit = left if timeout is None else min(timeout, left)
        return None if math.isinf(limit) else max(limit, MIN_ATTEMPT)
