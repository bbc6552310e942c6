"""The Redis pool: a redis-py asyncio client from ``SENTIENT_REDIS_URL``.

The client sits on a metered subclass of redis-py's ``BlockingConnectionPool``,
which — unlike the default pool that fails at once with "Too many connections"
— lets callers wait up to ``SENTIENT_REDIS_POOL_TIMEOUT`` for a connection.  We
time each acquire, count waiting callers, count connections opened and closed,
and turn the pool's timeout into a :class:`RedisPoolTimeoutError` (503).  The
retry policy is given to the pool, not the client: redis-py ignores a client's
retry settings once a pool is passed in.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from fastapi_sentient.exceptions import ConfigurationError, NotStartedError, PoolTimeoutError
from fastapi_sentient.pools.base import PoolMetrics, PoolResizeError, PoolStats
from fastapi_sentient.redact import mask_url

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    from fastapi_sentient.settings import SentientSettings

_SCHEMES = ("redis://", "rediss://", "unix://")


class RedisPoolTimeoutError(PoolTimeoutError, RedisConnectionError):
    """No Redis connection within ``SENTIENT_REDIS_POOL_TIMEOUT`` (still a redis ConnectionError)."""


class _CountsClosing:
    """Mixin for the pool's connection class: counts connections that close."""

    sentient_metrics: ClassVar[PoolMetrics]

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        connection = cast("AbstractConnection", self)
        was_connected = connection.is_connected
        try:
            await super().disconnect(*args, **kwargs)  # type: ignore[misc]
        finally:
            if was_connected and not connection.is_connected:
                self.sentient_metrics.connection_closed()


class _MeteredBlockingPool(BlockingConnectionPool):
    """redis-py's blocking pool, timed and counted."""

    def __init__(self, *, sentient_metrics: PoolMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sentient_metrics = sentient_metrics
        base = self.connection_class
        self.connection_class = type(
            f"Metered{base.__name__}",
            (_CountsClosing, base),
            {"sentient_metrics": sentient_metrics},
        )

    def make_connection(self) -> Any:
        connection = super().make_connection()  # type: ignore[no-untyped-call]
        connection.register_connect_callback(self._connected)
        return connection

    def _connected(self, connection: Any) -> None:
        self.sentient_metrics.connection_created()

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        metrics = self.sentient_metrics
        try:
            with metrics.acquiring():
                return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except RedisConnectionError as exc:
            if not isinstance(exc.__cause__, TimeoutError) or isinstance(exc, PoolTimeoutError):
                raise
            metrics.timeout()
            msg = (
                f"redis pool {metrics.name!r} exhausted: no connection within {self.timeout:g}s "
                f"({len(self._in_use_connections)} in use of {self.max_connections}); raise "
                "SENTIENT_REDIS_MAX_CONNECTIONS or hold connections for less time"
            )
            raise RedisPoolTimeoutError(msg) from None

    async def release(self, connection: Any) -> None:
        await super().release(connection)
        if self.total() > self.max_connections and connection in self._available_connections:
            # shrunk by resize(): retire connections as they come back
            self._available_connections.remove(connection)
            await connection.disconnect()

    def total(self) -> int:
        """Connection objects the pool holds, in use or not."""
        return len(self._available_connections) + len(self._in_use_connections)

    def connected_idle(self) -> list[Any]:
        """Idle connections with an open socket."""
        return [c for c in self._available_connections if c.is_connected]


class RedisPool:
    """A ``redis.asyncio.Redis`` client over a bounded, metered connection pool."""

    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        name: str = "redis",
        max_connections: int = 50,
        pool_timeout: float = 5.0,
        socket_timeout: float = 2.0,
        connect_timeout: float = 2.0,
        retries: int = 2,
        warmup: int = 1,
        required: bool = True,
        critical: bool = True,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        if not url.startswith(_SCHEMES):
            msg = (
                f"SENTIENT_REDIS_URL={mask_url(url)!r} is not supported by the Redis pool; "
                "use redis://, rediss:// or unix://"
            )
            raise ConfigurationError(msg)
        self.name = name
        self.url = url
        self.required = required
        self.critical = critical
        self.metrics = PoolMetrics(name, self.kind)
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.socket_timeout = socket_timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.warmup = max(0, warmup)
        self.client_options = dict(client_options or {})
        self._pool: _MeteredBlockingPool | None = None
        self._client: Redis | None = None

    @classmethod
    def from_settings(cls, settings: SentientSettings) -> RedisPool:
        """The pool ``SENTIENT_REDIS_URL`` and the ``SENTIENT_REDIS_*`` settings describe."""
        assert settings.redis_url is not None
        return cls(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            pool_timeout=settings.redis_pool_timeout,
            socket_timeout=settings.redis_socket_timeout,
            connect_timeout=settings.redis_connect_timeout,
            retries=settings.redis_retries,
            warmup=settings.redis_pool_warmup,
            required=settings.redis_required,
            critical=settings.redis_critical,
        )

    @property
    def client(self) -> Redis:
        """The client, once the app has started."""
        if self._client is None:
            msg = f"redis pool {self.name!r} is not open; it opens with the app's lifespan"
            raise NotStartedError(msg)
        return self._client

    def _create(self) -> tuple[_MeteredBlockingPool, Redis]:
        pool = _MeteredBlockingPool.from_url(
            self.url,
            sentient_metrics=self.metrics,
            max_connections=self.max_connections,
            timeout=self.pool_timeout,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.connect_timeout,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), self.retries),
            **self.client_options,
        )
        return pool, Redis(connection_pool=pool)

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
        pool, client = self._pool, self._client
        self._pool = self._client = None
        if client is not None:
            await client.aclose()
        if pool is not None:
            await pool.disconnect(inuse_connections=True)

    async def ping(self) -> None:
        """``PING`` through the pool."""
        await self.client.ping()

    def stats(self) -> PoolStats:
        """Counts from the pool's connection lists and our counters."""
        pool = self._pool
        in_use = len(pool._in_use_connections) if pool is not None else 0
        idle = len(pool.connected_idle()) if pool is not None else 0
        m = self.metrics
        return PoolStats(
            name=self.name,
            kind=self.kind,
            size=in_use + idle,
            max_size=pool.max_connections if pool is not None else self.max_connections,
            in_use=in_use,
            idle=idle,
            overflow=0,
            waiting=m.waiting,
            created=m.created,
            closed=m.closed,
            acquire_timeouts=m.acquire_timeouts,
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
        while pool.total() > size and pool._available_connections:
            await pool._available_connections.pop(0).disconnect()
        async with pool._condition:
            pool._condition.notify_all()
