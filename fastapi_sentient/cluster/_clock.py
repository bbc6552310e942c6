"""The clock leases are measured on, loop pacing, and a logger that does not flood during outages.

Lease validity is local time, never a timestamp read from Redis or another
node: ``CLOCK_BOOTTIME`` on Linux (monotonic and it keeps counting while the
machine is suspended, so a resumed laptop or VM does not believe an old lease
is still fresh), ``time.monotonic`` elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import time

_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", None)


def clock() -> float:
    """Seconds on a monotonic clock that also counts suspend, where the OS has one."""
    if _BOOTTIME is not None:
        return time.clock_gettime(_BOOTTIME)
    return time.monotonic()


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a coinciding timeout converted and swallowed.

    When a task is cancelled at the moment one of its timeouts (ours or the
    Redis client's socket timeout) fires, asyncio can surface the timeout
    instead; the request stays counted in ``Task.cancelling()``, so a loop that
    checks it still stops at shutdown instead of running on forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def pause(wake: asyncio.Event, timeout: float) -> None:
    """Sleep up to ``timeout`` seconds, or until ``wake`` is set (then clear it)."""
    try:
        async with asyncio.timeout(timeout):
            await wake.wait()
    except TimeoutError:
        pass
    wake.clear()
    raise_if_cancelling()


class OutageLog:
    """Logs the first failure of an operation, then at most once per ``every`` seconds.

    A Redis outage makes every loop fail every period; one warning, a reminder
    with the count every half minute and one "recovered" line keep the log useful.
    """

    def __init__(self, logger: logging.Logger, what: str, every: float = 30.0) -> None:
        self._logger = logger
        self._what = what
        self._every = every
        self._failing_since: float | None = None
        self._last_logged = 0.0
        self._suppressed = 0

    @property
    def failing(self) -> bool:
        """Whether the last attempt failed."""
        return self._failing_since is not None

    def failure(self, error: BaseException) -> None:
        """Record a failed attempt, logging it if the rate allows."""
        now = time.monotonic()
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if self._failing_since is None:
            self._failing_since = now
            self._last_logged = now
            self._suppressed = 0
            self._logger.warning("%s failed: %s", self._what, text)
            return
        if now - self._last_logged >= self._every:
            self._logger.warning(
                "%s still failing after %.0fs (%d more failures): %s",
                self._what,
                now - self._failing_since,
                self._suppressed + 1,
                text,
            )
            self._last_logged = now
            self._suppressed = 0
        else:
            self._suppressed += 1

    def success(self) -> None:
        """Record a successful attempt, logging the recovery once."""
        if self._failing_since is not None:
            self._logger.info(
                "%s recovered after %.1fs", self._what, time.monotonic() - self._failing_since
            )
            self._failing_since = None
