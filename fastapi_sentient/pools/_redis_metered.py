"""redis-py's connection pools, timed and counted for ``redis_pool_*``.

The Redis pool sits on a subclass of redis-py's ``BlockingConnectionPool``,
which — unlike the default pool that fails at once with "Too many connections"
— lets callers wait up to ``SENTIENT_REDIS_POOL_TIMEOUT`` for a connection.  We
time each acquire, count waiting callers and turn the pool's timeout into a
:class:`RedisPoolTimeoutError` (503).  Sentinel gets the same pool: redis-py's
``SentinelConnectionPool`` only changes where a connection connects to (the
primary the Sentinels name), so it composes with the blocking pool.

Connections opened and closed are counted by the connection class itself
(:func:`counted`), which also works where redis-py builds the connections
without a pool object we could subclass (Redis Cluster's per-node lists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_sentient._compat import redis as redis_compat
from fastapi_sentient.exceptions import PoolTimeoutError

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    from fastapi_sentient.pools._base import PoolMetrics


class RedisPoolTimeoutError(PoolTimeoutError, RedisConnectionError):
    """No Redis connection within ``SENTIENT_REDIS_POOL_TIMEOUT`` (still a redis ConnectionError)."""


class _Counted:
    """Mixin for a pool's connection class: counts connections that open and close."""

    sentient_metrics: ClassVar[PoolMetrics]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # held weakly by redis-py; a bound method of the connection lives as long as it does
        connection = cast("AbstractConnection", self)
        connection.register_connect_callback(self._sentient_connected)  # type: ignore[no-untyped-call]

    def _sentient_connected(self, connection: Any) -> None:
        self.sentient_metrics.connection_created()

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        connection = cast("AbstractConnection", self)
        was_connected = connection.is_connected
        try:
            await super().disconnect(*args, **kwargs)  # type: ignore[misc]
        finally:
            if was_connected and not connection.is_connected:
                self.sentient_metrics.connection_closed()


def counted(connection_class: type[Any], metrics: PoolMetrics) -> type[Any]:
    """``connection_class`` reporting its connects and disconnects into ``metrics``."""
    if issubclass(connection_class, _Counted):
        return connection_class
    return type(
        f"Metered{connection_class.__name__}",
        (_Counted, connection_class),
        {"sentient_metrics": metrics},
    )


class MeteredBlockingPool(BlockingConnectionPool):
    """redis-py's blocking pool, timed and counted."""

    def __init__(self, *, sentient_metrics: PoolMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        redis_compat.check_pool(self)
        self.sentient_metrics = sentient_metrics
        self.connection_class = counted(self.connection_class, sentient_metrics)

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        metrics = self.sentient_metrics
        try:
            with metrics.acquiring():
                try:
                    return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
                except RedisConnectionError as exc:
                    if isinstance(exc.__cause__, TimeoutError) or isinstance(exc, PoolTimeoutError):
                        raise
                    # An idle connection to a server that went away (a failover, a
                    # restart) can fail redis-py's readiness check; drop the idle ones
                    # and take one more, which connects afresh.
                    await self.disconnect(inuse_connections=False)
                    return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except RedisConnectionError as exc:
            if not isinstance(exc.__cause__, TimeoutError) or isinstance(exc, PoolTimeoutError):
                raise
            metrics.timeout()
            msg = (
                f"redis pool {metrics.name!r} exhausted: no connection within {self.timeout:g}s "
                f"({len(redis_compat.in_use_connections(self))} in use of {self.max_connections}); raise "
                "SENTIENT_REDIS_MAX_CONNECTIONS or hold connections for less time"
            )
            raise RedisPoolTimeoutError(msg) from None

    async def release(self, connection: Any) -> None:
        await super().release(connection)
        available = redis_compat.available_connections(self)
        if self.total() > self.max_connections and connection in available:
            # shrunk by resize(): retire connections as they come back
            available.remove(connection)
            await connection.disconnect()

    def total(self) -> int:
        """Connection objects the pool holds, in use or not."""
        return len(redis_compat.available_connections(self)) + len(
            redis_compat.in_use_connections(self)
        )

    def connected_idle(self) -> list[Any]:
        """Idle connections with an open socket."""
        return [c for c in redis_compat.available_connections(self) if c.is_connected]


class MeteredSentinelPool(SentinelConnectionPool, MeteredBlockingPool):
    """The blocking pool whose connections connect to the primary the Sentinels name.

    ``SentinelConnectionPool`` overrides neither ``get_connection`` nor
    ``release``, so waiting, timing and the timeout come from the blocking pool;
    it contributes the Sentinel-managed connection class (which asks the
    Sentinels for the primary on every connect) and drops idle connections
    when the primary moves.
    """
