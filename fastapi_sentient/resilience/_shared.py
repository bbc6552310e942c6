"""Sharing breaker decisions across processes through Redis — and failing open without it.

Only the *decision* is shared, never the counters: when a breaker opens, its
process writes ``<prefix><breaker name>`` with a TTL of the open duration; every
process reads those keys each ``interval`` and opens its own breaker for the
time left.  When probes close a breaker, the key is deleted.  Sliding windows
stay local (one process's samples say enough, and sharing them would put Redis
on every call's path).  Redis is never on the request path: writes are fire and
forget with a short timeout, reads happen in the background loop, and any Redis
error leaves each process deciding alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi_sentient.resilience._breaker import BreakerState, CircuitBreaker

logger = logging.getLogger("fastapi_sentient.resilience.shared")

REDIS_TIMEOUT = 1.0
_WARN_EVERY = 60.0


class SharedBreakers:
    """Publishes local open/close decisions and applies other processes' ones."""

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str,
        interval: float,
        breakers: Callable[[], list[CircuitBreaker]],
        redact: Callable[[str], str],
        owner: str = "",
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.interval = interval
        self.owner = owner or f"{id(self):x}"
        self._breakers = breakers
        self._redact = redact
        self._applying = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._warned_at = -_WARN_EVERY
        self.errors = 0

    def key(self, breaker: CircuitBreaker) -> str:
        """The Redis key of ``breaker``'s shared decision."""
        return self.prefix + breaker.name

    # --- publishing -----------------------------------------------------------------------

    def transitioned(self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        """A local breaker changed state; share opens and closes (not our own replays)."""
        if self._applying:
            return
        if new == BreakerState.OPEN:
            ttl_ms = max(int(breaker.retry_after() * 1000), 1)
            self._fire(self.redis.set(self.key(breaker), self.owner, px=ttl_ms))
        elif new == BreakerState.CLOSED and old == BreakerState.HALF_OPEN:
            self._fire(self.redis.delete(self.key(breaker)))

    def _fire(self, command: Any) -> None:
        async def run() -> None:
            try:
                async with asyncio.timeout(REDIS_TIMEOUT):
                    await command
            except Exception as exc:  # noqa: BLE001  fire and forget: failures are counted
                self._failed(exc)

        try:
            task = asyncio.get_running_loop().create_task(run())
        except RuntimeError:
            command.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- applying -------------------------------------------------------------------------

    async def sync(self) -> int:
        """Open local breakers that another process opened; returns how many were applied."""
        breakers = self._breakers()
        if not breakers:
            return 0
        async with asyncio.timeout(REDIS_TIMEOUT):
            async with self.redis.pipeline(transaction=False) as pipe:
                for breaker in breakers:
                    pipe.get(self.key(breaker))
                    pipe.pttl(self.key(breaker))
                replies = await pipe.execute()
        applied = 0
        for index, breaker in enumerate(breakers):
            owner, pttl = replies[2 * index], replies[2 * index + 1]
            if isinstance(owner, bytes):
                owner = owner.decode()
            if owner is None or owner == self.owner or not isinstance(pttl, int) or pttl <= 0:
                continue
            if breaker.state == BreakerState.OPEN and breaker.retry_after() * 1000 >= pttl:
                continue
            self._applying = True
            try:
                breaker.force_open(pttl / 1000.0)
            finally:
                self._applying = False
            applied += 1
        return applied

    async def run(self) -> None:
        """Sync every ``interval`` until cancelled; Redis errors never stop the loop."""
        while True:
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  the sync loop outlives Redis failures
                self._failed(exc)
            await asyncio.sleep(self.interval)

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            text = self._redact(f"{type(exc).__name__}: {exc}")
            logger.warning("shared breaker state unavailable (%s); deciding locally", text)
