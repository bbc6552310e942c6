"""The Redis pool: a redis-py asyncio client from ``SENTIENT_REDIS_URL``.

One primary (``redis://``, ``rediss://``, ``unix://``) and Sentinel
(``redis+sentinel://``) are served by :class:`RedisPool`: a ``redis.asyncio.Redis``
over a bounded, metered blocking connection pool (see
:mod:`fastapi_sentient.pools._redis_metered`); with Sentinel the pool's
connections connect to whichever server the Sentinels name as primary, so a
failover needs no restart.  Redis Cluster (``redis+cluster://``) is served by
:class:`~fastapi_sentient.pools._redis_cluster.RedisClusterPool`.
:func:`redis_pool_from_settings` picks the right one.

The retry policy is given to the pool, not the client: redis-py ignores a
client's retry settings once a pool is passed in.  It must be the asyncio
``Retry``: the synchronous one calls the coroutine without awaiting it inside
its ``try``, so nothing would ever be retried.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from fastapi_sentient._compat import redis as redis_compat
from fastapi_sentient._redis_url import parse_redis_url
from fastapi_sentient.exceptions import ConfigurationError
from fastapi_sentient.pools._base import PoolResizeError, PoolStats
from fastapi_sentient.pools._redis_config import RedisPoolConfig
from fastapi_sentient.pools._redis_metered import (
    MeteredBlockingPool,
    MeteredSentinelPool,
    RedisPoolTimeoutError,
)

if TYPE_CHECKING:
    from redis.asyncio.sentinel import Sentinel

    from fastapi_sentient._settings_groups import RedisSettings
    from fastapi_sentient.pools._redis_cluster import RedisClusterPool

__all__ = ["RedisPool", "RedisPoolConfig", "RedisPoolTimeoutError", "redis_pool_from_settings"]


def redis_pool_from_settings(settings: RedisSettings) -> RedisPool | RedisClusterPool:
    """The pool ``SENTIENT_REDIS_URL`` asks for: Redis Cluster, or one primary / Sentinel."""
    assert settings.url is not None
    if parse_redis_url(settings.url).kind == "cluster":
        from fastapi_sentient.pools._redis_cluster import RedisClusterPool

        return RedisClusterPool.from_settings(settings)
    return RedisPool.from_settings(settings)


class RedisPool(RedisPoolConfig):
    """A ``redis.asyncio.Redis`` client over a bounded, metered connection pool.

    Serves one primary and Sentinel URLs; a Redis Cluster URL needs
    :class:`~fastapi_sentient.pools._redis_cluster.RedisClusterPool`.
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        if self.endpoint.kind == "cluster":
            msg = (
                f"{self.endpoint.display!r} is a Redis Cluster URL; use RedisClusterPool "
                "(fastapi_sentient.pools._redis_cluster) or redis_pool_from_settings()"
            )
            raise ConfigurationError(msg)
        self._pool: MeteredBlockingPool | None = None
        self._client: Redis | None = None
        self._sentinel: Sentinel | None = None

    @property
    def client(self) -> Redis:
        """The client, once the app has started."""
        if self._client is None:
            raise self._not_open()
        return self._client

    def _pool_options(self) -> dict[str, Any]:
        return {
            "sentient_metrics": self.metrics,
            "max_connections": self.max_connections,
            "timeout": self.pool_timeout,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.connect_timeout,
            "retry": self._retry(),
            **self.client_options,
        }

    def _create(self) -> tuple[MeteredBlockingPool, Redis]:
        if self.endpoint.kind == "sentinel":
            return self._create_sentinel()
        pool = MeteredBlockingPool.from_url(self.url, **self._pool_options())
        return pool, Redis(connection_pool=pool)

    def _create_sentinel(self) -> tuple[MeteredBlockingPool, Redis]:
        from redis.asyncio.sentinel import Sentinel

        endpoint = self.endpoint
        # Sentinels are asked once each per (re)connect; a dead one is skipped, and the
        # command's own retries cover a moment when none answers
        self._sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(endpoint.hosts),
            sentinel_kwargs={
                "socket_timeout": self.connect_timeout,
                "socket_connect_timeout": self.connect_timeout,
                "retry": Retry(NoBackoff(), 0),
                "ssl": endpoint.ssl,
            },
        )
        assert endpoint.service is not None  # parse_redis_url requires it
        client = self._sentinel.master_for(
            endpoint.service,
            redis_class=Redis,
            connection_pool_class=MeteredSentinelPool,
            db=endpoint.db,
            username=endpoint.username,
            password=endpoint.password,
            ssl=endpoint.ssl,
            **self._pool_options(),
        )
        assert isinstance(client, Redis)
        pool = client.connection_pool
        assert isinstance(pool, MeteredSentinelPool)
        return pool, client

    # --- Pool protocol --------------------------------------------------------------------

    async def open(self) -> None:
        """Create the client (once), open ``warmup`` connections and PING."""
        if self._pool is None:
            self._pool, self._client = self._create()
        pool = self._pool
        count = min(max(self.warmup, 1), self.max_connections)
        held = await asyncio.gather(
            *(pool.get_connection() for _ in range(count)), return_exceptions=True
        )
        for connection in held:
            if not isinstance(connection, BaseException):
                await pool.release(connection)
        for outcome in held:
            if isinstance(outcome, BaseException):
                raise outcome
        await self.ping()

    async def close(self) -> None:
        """Close the client and every connection; later use raises :class:`NotStartedError`."""
        pool, client, sentinel = self._pool, self._client, self._sentinel
        self._pool = self._client = self._sentinel = None
        if client is not None:
            await client.aclose()
        if pool is not None:
            await pool.disconnect(inuse_connections=True)
        if sentinel is not None:
            await sentinel.aclose()

    async def ping(self) -> None:
        """``PING`` through the pool (with Sentinel: to the current primary)."""
        await self.client.ping()

    def stats(self) -> PoolStats:
        """Counts from the pool's connection lists and our counters."""
        pool = self._pool
        in_use = len(redis_compat.in_use_connections(pool)) if pool is not None else 0
        idle = len(pool.connected_idle()) if pool is not None else 0
        return self.metrics.snapshot(
            size=in_use + idle,
            max_size=pool.max_connections if pool is not None else self.max_connections,
            in_use=in_use,
            idle=idle,
        )

    async def recycle(self) -> None:
        """Disconnect every connection; each reconnects on its next use."""
        if self._pool is not None:
            await self._pool.disconnect(inuse_connections=True)

    async def drain(self) -> int:
        """Disconnect idle connections; returns how many were open."""
        if self._pool is None:
            return 0
        idle = self._pool.connected_idle()
        await asyncio.gather(*(c.disconnect() for c in idle), return_exceptions=True)
        return len(idle)

    async def resize(self, size: int) -> None:
        """Change ``max_connections``; idle connections beyond it close now, busy ones on release."""
        if size < 1:
            msg = f"redis pool size must be at least 1, got {size}"
            raise PoolResizeError(msg)
        self.max_connections = size
        pool = self._pool
        if pool is None:
            return
        pool.max_connections = size
        available = redis_compat.available_connections(pool)
        while pool.total() > size and available:
            await available.pop(0).disconnect()
        condition = redis_compat.pool_condition(pool)
        async with condition:
            condition.notify_all()
