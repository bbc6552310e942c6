"""The health check every pool gets: a round trip through the pool, then recovery.

The check pings through the pool itself (``SELECT 1``, ``PING``, ``GET /models``)
so it proves what routes rely on, not merely that a port is open.  A critical
pool that fails ``fail_after`` runs in a row is recycled: its connections are
dropped (engine disposed, Redis connections reset), because a half-dead socket
left in a pool would otherwise fail one request after another long after the
server is back.  Recycling repeats every ``fail_after`` failures while the
outage lasts; it is cheap and the pool reconnects on its own once the server
answers again, with no restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi_sentient._redact import Redactor, mask_url
from fastapi_sentient.health._result import CheckResult, HealthStatus

if TYPE_CHECKING:
    from fastapi_sentient.pools._base import Pool, PoolStats

logger = logging.getLogger("fastapi_sentient.pools")


def check_name(pool: Pool) -> str:
    """``db``, ``redis``, ``http:openai``: the kind alone when it is also the name."""
    return pool.name if pool.name == pool.kind else f"{pool.kind}:{pool.name}"


class PoolCheck:
    """The async callable registered with the health registry for one pool."""

    def __init__(
        self,
        pool: Pool,
        *,
        timeout: float,
        fail_after: int,
        redact: Redactor,
        publish: Callable[[PoolStats], None] | None = None,
    ) -> None:
        self.pool = pool
        self.timeout = timeout
        self.fail_after = max(1, fail_after)
        self.failures = 0
        self.recycles = 0
        self._redact = redact
        self._publish = publish

    def _details(self) -> dict[str, object]:
        stats = self.pool.stats()
        if self._publish is not None:
            self._publish(stats)
        return {
            **stats.to_dict(),
            "url": self._redact(mask_url(self.pool.url)),
            "required": self.pool.required,
            "recycles": self.recycles,
        }

    async def __call__(self) -> CheckResult:
        try:
            async with asyncio.timeout(self.timeout):
                await self.pool.ping()
        except Exception as exc:  # noqa: BLE001  any ping failure is an unhealthy pool
            self.failures += 1
            error = "timed out" if isinstance(exc, TimeoutError) and not str(exc) else str(exc)
            if self.pool.critical and self.failures % self.fail_after == 0:
                await self._recycle()
            return CheckResult(
                status=HealthStatus.UNHEALTHY,
                error=self._redact(f"{type(exc).__name__}: {error}".replace("\n", " ")),
                details=self._details(),
            )
        self.failures = 0
        return CheckResult(details=self._details())

    async def _recycle(self) -> None:
        self.recycles += 1
        logger.warning(
            "pool %s failed %d checks in a row; recycling its connections",
            self.pool.name,
            self.failures,
        )
        try:
            async with asyncio.timeout(self.timeout):
                await self.pool.recycle()
        except Exception as exc:  # noqa: BLE001  a failed recycle is logged; the check reports
            logger.warning("recycling pool %s failed: %s", self.pool.name, self._redact(str(exc)))
