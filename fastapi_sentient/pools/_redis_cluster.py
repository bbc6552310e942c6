"""The Redis pool on Redis Cluster: a ``redis.asyncio.RedisCluster`` from ``redis+cluster://``.

redis-py's cluster client keeps one small pool per node (a list of connections
and a free queue, capped at ``max_connections`` per node) and builds those
nodes itself as it discovers the topology, so there is no pool object to
subclass.  We meter what it lets us reach:

- connections opened and closed, through the connection class every node uses;
- size, in use and idle, summed over the nodes' lists at scrape time;
- exhaustion: redis-py raises ``MaxConnectionsError`` at once when a node has
  ``max_connections`` in use.  Before anything is sent, so a retry is always
  safe; we retry with a short backoff for up to ``SENTIENT_REDIS_POOL_TIMEOUT``
  (counted in ``waiting``), then raise :class:`RedisPoolTimeoutError` (503), as
  the other Redis pools do.  Pipelines take connections by another path and
  still fail at once (also answered 503).

Not measured: the time of an uncontended checkout (``redis_pool_acquire_seconds``
stays empty), because the driver hands connections out without a hook.
"""

from __future__ import annotations

import asyncio
from typing import Any, Self

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import MaxConnectionsError, RedisClusterException

from fastapi_sentient._compat import redis as redis_compat
from fastapi_sentient.exceptions import ConfigurationError
from fastapi_sentient.pools._base import (
    PoolMetrics,
    PoolResizeError,
    PoolStats,
    PoolUnavailableError,
)
from fastapi_sentient.pools._redis_config import RedisPoolConfig
from fastapi_sentient.pools._redis_metered import RedisPoolTimeoutError, counted

__all__ = ["RedisClusterPool", "RedisClusterUnavailableError"]

#: Backoff between tries of a command whose node had no free connection.
_WAIT_FIRST = 0.001
_WAIT_CAP = 0.025


class RedisClusterUnavailableError(PoolUnavailableError, RedisClusterException):
    """No seed node gave a usable topology (503 ``redis_unavailable``; still a RedisClusterException)."""


class _MeteredCluster(RedisCluster):
    """``RedisCluster`` whose connections are counted and whose full nodes are waited for."""

    def __init__(
        self, *, sentient_metrics: PoolMetrics, pool_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.sentient_metrics = sentient_metrics
        self.pool_timeout = pool_timeout
        # one dict shared with the nodes manager: nodes discovered later use it too
        connection_class = counted(self.connection_kwargs["connection_class"], sentient_metrics)
        self.connection_kwargs["connection_class"] = connection_class
        for node in self.nodes_manager.startup_nodes.values():
            redis_compat.check_node(node)
            node.connection_class = connection_class

    async def initialize(self, *args: Any, **kwargs: Any) -> Self:
        try:
            await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            if isinstance(exc, PoolUnavailableError):
                raise
            name = self.sentient_metrics.name
            msg = f"redis pool {name!r}: {exc}"
            raise RedisClusterUnavailableError(msg, pool=name, kind="redis") from exc
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except MaxConnectionsError as exc:
            return await self._wait_for_node(exc, args, kwargs)

    async def _wait_for_node(
        self, exc: MaxConnectionsError, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        metrics = self.sentient_metrics
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.pool_timeout
        delay = _WAIT_FIRST
        metrics.waiting += 1
        try:
            while (remaining := deadline - loop.time()) > 0:
                await asyncio.sleep(min(delay, remaining))
                delay = min(delay * 2, _WAIT_CAP)
                try:
                    return await super().execute_command(*args, **kwargs)
                except MaxConnectionsError as again:
                    exc = again
        finally:
            metrics.waiting -= 1
        metrics.timeout()
        node = getattr(exc, "connection", None)
        where = f"node {node.name}" if isinstance(node, ClusterNode) else "a node"
        limit = node.max_connections if isinstance(node, ClusterNode) else "all"
        msg = (
            f"redis pool {metrics.name!r} exhausted: {where} had {limit} connections in use for "
            f"{self.pool_timeout:g}s; raise SENTIENT_REDIS_MAX_CONNECTIONS (per node) or hold "
            "connections for less time"
        )
        raise RedisPoolTimeoutError(msg) from None


class RedisClusterPool(RedisPoolConfig):
    """A ``redis.asyncio.RedisCluster`` with per-node limits, bounded retries and metrics.

    ``max_connections`` applies to each node; ``warmup`` connections are opened
    to each primary.
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        if self.endpoint.kind != "cluster":
            msg = f"{self.endpoint.display!r} is not a redis+cluster:// URL; use RedisPool"
            raise ConfigurationError(msg)
        if self.endpoint.db:
            msg = (
                f"SENTIENT_REDIS_URL={self.endpoint.display!r}: Redis Cluster has only "
                "database 0; remove the /db part"
            )
            raise ConfigurationError(msg)
        self._client: _MeteredCluster | None = None

    @property
    def client(self) -> RedisCluster:
        """The cluster client, once the app has started."""
        if self._client is None:
            raise self._not_open()
        return self._client

    def _create(self) -> _MeteredCluster:
        endpoint = self.endpoint
        return _MeteredCluster(
            sentient_metrics=self.metrics,
            pool_timeout=self.pool_timeout,
            startup_nodes=[ClusterNode(host, port) for host, port in endpoint.hosts],
            username=endpoint.username,
            password=endpoint.password,
            ssl=endpoint.ssl,
            max_connections=self.max_connections,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.connect_timeout,
            retry=self._retry(),
            **self.client_options,
        )

    def _nodes(self) -> list[ClusterNode]:
        """Every node object holding connections: the topology's and the seeds'."""
        if self._client is None:
            return []
        manager = self._client.nodes_manager
        nodes = {id(n): n for n in (*manager.nodes_cache.values(), *manager.startup_nodes.values())}
        return list(nodes.values())

    # --- Pool protocol --------------------------------------------------------------------

    async def open(self) -> None:
        """Discover the topology, open ``warmup`` connections to each primary and PING them."""
        if self._client is None:
            self._client = self._create()
        client = self._client
        await client.initialize()
        count = min(max(self.warmup, 1), self.max_connections)
        outcomes = await asyncio.gather(
            *(self.ping() for _ in range(count)), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def close(self) -> None:
        """Close the client and every node's connections."""
        client, nodes = self._client, self._nodes()
        self._client = None
        if client is not None:
            await client.aclose()
        await asyncio.gather(*(node.disconnect() for node in nodes), return_exceptions=True)

    async def ping(self) -> None:
        """``PING`` to every primary: each slot range must answer."""
        await self.client.ping(target_nodes=RedisCluster.PRIMARIES)

    def stats(self) -> PoolStats:
        """Sums over the nodes' connection lists; ``max_size`` is per node × nodes."""
        in_use = idle = 0
        for node in self._nodes():
            free = list(redis_compat.node_free(node))
            in_use += len(redis_compat.node_connections(node)) - len(free)
            idle += sum(1 for c in free if c.is_connected)
        nodes = len(self._client.nodes_manager.nodes_cache) if self._client is not None else 0
        return self.metrics.snapshot(
            size=in_use + idle,
            max_size=self.max_connections * max(nodes, 1),
            in_use=in_use,
            idle=idle,
        )

    async def recycle(self) -> None:
        """Disconnect every connection and rediscover the topology on the next command."""
        client = self._client
        if client is None:
            return
        await client.aclose()
        await asyncio.gather(*(node.disconnect() for node in self._nodes()), return_exceptions=True)

    async def drain(self) -> int:
        """Disconnect idle connections of every node; returns how many were open."""
        idle = [c for node in self._nodes() for c in redis_compat.node_free(node) if c.is_connected]
        await asyncio.gather(*(c.disconnect() for c in idle), return_exceptions=True)
        return len(idle)

    async def resize(self, size: int) -> None:
        """Not supported: redis-py fixes each node's limit when it creates the node."""
        msg = (
            "the Redis Cluster pool cannot be resized while running (redis-py fixes each "
            f"node's limit when it discovers the node); set SENTIENT_REDIS_MAX_CONNECTIONS={size} "
            "and restart"
        )
        raise PoolResizeError(msg)
