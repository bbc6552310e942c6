"""The pools of one app: opened in registration order, closed in reverse.

The registry is the pools' :class:`~fastapi_sentient._component.Component`.  At
startup it opens each pool; a required pool that cannot open stops startup with
one line naming the pool and its URL (password masked), and an optional one
starts unhealthy while a background loop reconnects it with capped exponential
backoff.  Each pool gets one health check (``db``, ``redis``, ``http:<name>``…)
and its ``<kind>_pool_*`` metrics.  Users register their own pools through the
same :meth:`PoolRegistry.register`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi_sentient._redact import mask_url
from fastapi_sentient.exceptions import ConfigurationError, PoolNotFoundError, StartupError
from fastapi_sentient.pools._base import Instrumentable, Pool
from fastapi_sentient.pools._check import PoolCheck, check_name
from fastapi_sentient.pools._metrics import PoolCollector, PoolInstruments

if TYPE_CHECKING:
    import httpx2
    from opentelemetry.trace import TracerProvider

    from fastapi_sentient._lifecycle import Lifecycle
    from fastapi_sentient._redact import Redactor
    from fastapi_sentient.health._registry import HealthRegistry
    from fastapi_sentient.metrics._registry import Metrics
    from fastapi_sentient.pools._database import DatabasePool
    from fastapi_sentient.pools._redis import RedisPool
    from fastapi_sentient.pools._redis_cluster import RedisClusterPool

logger = logging.getLogger("fastapi_sentient.pools")

P = TypeVar("P", bound=Pool)

RECONNECT_INITIAL = 0.5
RECONNECT_MAX = 30.0


class PoolRegistry:
    """Named pools bound to the app's lifespan."""

    name = "pools"

    def __init__(
        self,
        *,
        metrics: Metrics,
        health: HealthRegistry,
        lifecycle: Lifecycle,
        redactor: Redactor,
        open_timeout: float,
        close_timeout: float,
        check_timeout: float,
        check_fail_after: int,
    ) -> None:
        """Bind the pools to ``health`` (one check each), ``metrics`` and ``lifecycle``.

        Args:
            open_timeout: bound on each pool's ``open()`` at startup
                (``SENTIENT_STARTUP_TIMEOUT``).
            close_timeout: bound on each pool's ``close()`` (``SENTIENT_SHUTDOWN_TIMEOUT``).
            check_timeout: the pools' ping timeout (``SENTIENT_HEALTH_TIMEOUT``).
            check_fail_after: failures in a row before a critical pool is recycled
                (``SENTIENT_HEALTH_FAIL_AFTER``).
        """
        self._health = health
        self._lifecycle = lifecycle
        self._redact = redactor
        self._open_timeout = open_timeout
        self._close_timeout = close_timeout
        self._check_timeout = check_timeout
        self._check_fail_after = check_fail_after
        self._pools: dict[str, Pool] = {}
        self._checks: dict[str, PoolCheck] = {}
        self._instruments = PoolInstruments(metrics)
        self._reconnecting: dict[str, asyncio.Task[Any]] = {}
        self.started = False
        metrics.registry.register(PoolCollector(lambda: list(self._pools.values())))

    # --- registration ---------------------------------------------------------------------

    def register(self, pool: P) -> P:
        """Add ``pool`` (before the app starts); it opens at startup in registration order."""
        if not isinstance(pool, Pool):
            msg = f"{pool!r} does not implement fastapi_sentient.pools.Pool"
            raise ConfigurationError(msg)
        if self.started:
            msg = (
                f"pool {pool.name!r} registered after startup; register pools before the app starts"
            )
            raise ConfigurationError(msg)
        if pool.name in self._pools:
            msg = f"a pool named {pool.name!r} is already registered"
            raise ConfigurationError(msg)
        self._pools[pool.name] = pool
        self._instruments.bind(pool)
        return pool

    def get(self, name: str) -> Pool:
        """The pool registered as ``name``.

        Raises:
            PoolNotFoundError: naming the registered pools.
        """
        try:
            return self._pools[name]
        except KeyError:
            known = ", ".join(sorted(self._pools)) or "none"
            msg = f"no pool named {name!r} (registered: {known})"
            raise PoolNotFoundError(msg) from None

    def __iter__(self) -> Iterator[Pool]:
        return iter(list(self._pools.values()))

    def __len__(self) -> int:
        return len(self._pools)

    def __contains__(self, name: object) -> bool:
        return name in self._pools

    @property
    def db(self) -> DatabasePool:
        """The SQLAlchemy pool built from ``SENTIENT_DATABASE_URL``."""
        from fastapi_sentient.pools._database import DatabasePool

        pool = self._named("db", "SENTIENT_DATABASE_URL")
        if not isinstance(pool, DatabasePool):
            msg = "the pool named 'db' is not a DatabasePool"
            raise PoolNotFoundError(msg)
        return pool

    @property
    def redis(self) -> RedisPool | RedisClusterPool:
        """The Redis pool built from ``SENTIENT_REDIS_URL`` (a RedisClusterPool for Redis Cluster)."""
        from fastapi_sentient.pools._redis import RedisPool
        from fastapi_sentient.pools._redis_cluster import RedisClusterPool

        pool = self._named("redis", "SENTIENT_REDIS_URL")
        if isinstance(pool, RedisPool | RedisClusterPool):
            return pool
        msg = "the pool named 'redis' is not a RedisPool or RedisClusterPool"
        raise PoolNotFoundError(msg)

    def _named(self, name: str, variable: str) -> Pool:
        pool = self._pools.get(name)
        if pool is None:
            msg = f"no {name} pool is configured; set {variable}"
            raise PoolNotFoundError(msg)
        return pool

    def http(self, name: str) -> httpx2.AsyncClient:
        """The pooled HTTP client of provider ``name``."""
        pool = self.get(name)
        client = getattr(pool, "client", None)
        if pool.kind != "http" or client is None:
            msg = f"pool {name!r} is a {pool.kind} pool, not an HTTP provider pool"
            raise PoolNotFoundError(msg)
        return client  # type: ignore[no-any-return]

    # --- tracing --------------------------------------------------------------------------

    def instrument(self, tracer_provider: TracerProvider) -> list[str]:
        """Trace every pool that can trace itself; returns the names of the pools traced.

        Call it once the pools are open: the spans hook into their engines and
        clients.  A pool that cannot be traced still serves, with one warning.
        """
        traced: list[str] = []
        for pool in self:
            if not isinstance(pool, Instrumentable):
                continue
            try:
                if not pool.instrument(tracer_provider):
                    continue
            except Exception:  # a pool that cannot be traced still serves; say so once
                logger.warning("tracing pool %s failed", pool.name, exc_info=True)
                continue
            traced.append(pool.name)
        return traced

    # --- lifespan -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open every pool in order and register its health check."""
        for pool in list(self._pools.values()):
            await self._open(pool)
        self.started = True

    async def _open(self, pool: Pool) -> None:
        try:
            async with asyncio.timeout(self._open_timeout):
                await pool.open()
        except Exception as exc:
            line = self._failure_line(pool, exc)
            if pool.required:
                raise StartupError(line) from exc
            logger.warning("%s; starting unhealthy and reconnecting in the background", line)
            self._reconnecting[pool.name] = self._lifecycle.spawn(
                self._reconnect(pool), f"pool-reconnect:{pool.name}"
            )
        self._add_check(pool)

    def _failure_line(self, pool: Pool, exc: BaseException) -> str:
        reason = str(exc) or "timed out"
        text = f"pool {pool.name!r} ({mask_url(pool.url)}) could not open: {type(exc).__name__}: {reason}"
        return " ".join(self._redact(text).split())

    async def _reconnect(self, pool: Pool) -> None:
        delay = RECONNECT_INITIAL
        try:
            while True:
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                try:
                    await pool.open()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001  the reconnect loop outlives any failure
                    logger.info("%s; retrying", self._failure_line(pool, exc))
                    delay = min(delay * 2, RECONNECT_MAX)
                    continue
                logger.info("pool %s connected", pool.name)
                check = self._checks.get(pool.name)
                if check is not None:
                    await self._health.refresh(check_name(pool))
                return
        finally:
            self._reconnecting.pop(pool.name, None)

    def _add_check(self, pool: Pool) -> None:
        check = PoolCheck(
            pool,
            timeout=self._check_timeout,
            fail_after=self._check_fail_after,
            redact=self._redact,
            publish=self._instruments.publish,
        )
        self._checks[pool.name] = check
        self._health.add(
            check_name(pool),
            check,
            type="pool",
            critical=pool.critical,
            # our own timeout cuts the ping; the margin leaves room for a recycle
            timeout=self._check_timeout * 2 + 1.0,
        )

    async def stop(self) -> None:
        """Stop reconnect loops and close every pool in reverse order (never raises)."""
        for task in list(self._reconnecting.values()):
            task.cancel()
        await asyncio.gather(*self._reconnecting.values(), return_exceptions=True)
        for pool in reversed(list(self._pools.values())):
            self._health.remove(check_name(pool))
            try:
                async with asyncio.timeout(self._close_timeout):
                    await pool.close()
            except Exception as exc:  # noqa: BLE001  stop() never raises; the others still close
                logger.warning("closing pool %s failed: %s", pool.name, self._redact(str(exc)))
        self._checks.clear()
        self.started = False
