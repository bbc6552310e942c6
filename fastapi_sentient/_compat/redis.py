"""redis-py's connection pool internals.

redis-py's asyncio pools expose no count of their connections, no way to close
idle ones without closing busy ones, and no way to wake callers waiting for a
connection after a resize; Redis Cluster nodes expose neither their connection
list nor their free queue.  The ``redis_pool_*`` metrics, ``drain`` and
``resize`` need all of that, so they read the lists here.  There is no
fallback: a pool whose size we cannot see would report wrong metrics, so a
missing attribute raises :class:`LibraryInternalsError`, at startup (the pools
call :func:`check_pool` and :func:`check_node` when they are built).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from fastapi_sentient._compat import read

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool
    from redis.asyncio.cluster import ClusterNode

__all__ = [
    "available_connections",
    "check_node",
    "check_pool",
    "in_use_connections",
    "node_connections",
    "node_free",
    "pool_condition",
]

_REDIS = "redis"


def available_connections(pool: ConnectionPool) -> list[Any]:
    """``ConnectionPool._available_connections``: the idle connections, in reuse order.

    The list itself (not a copy): a shrinking pool removes connections from it.
    redis-py has no public view of its idle connections.
    """
    found: list[Any] = read(pool, "_available_connections", _REDIS, "the idle Redis connections")
    return found


def in_use_connections(pool: ConnectionPool) -> Any:
    """``ConnectionPool._in_use_connections``: the connections handed out (a set-like collection).

    redis-py counts them only inside ``get_connection``; nothing public reports it.
    """
    return read(pool, "_in_use_connections", _REDIS, "the Redis connections in use")


def pool_condition(pool: ConnectionPool) -> asyncio.Condition:
    """``BlockingConnectionPool._condition``: what callers waiting for a connection wait on.

    A resize that raises the limit must wake them; redis-py notifies only on release.
    """
    found: asyncio.Condition = read(pool, "_condition", _REDIS, "waking callers after a resize")
    return found


def node_connections(node: ClusterNode) -> list[Any]:
    """``ClusterNode._connections``: every connection a Redis Cluster node holds.

    The cluster client builds its nodes itself and reports no per-node counts.
    """
    found: list[Any] = read(node, "_connections", _REDIS, "the Redis Cluster connections")
    return found


def node_free(node: ClusterNode) -> deque[Any]:
    """``ClusterNode._free``: the idle connections of a Redis Cluster node."""
    found: deque[Any] = read(node, "_free", _REDIS, "the idle Redis Cluster connections")
    return found


def check_pool(pool: ConnectionPool) -> None:
    """Read every pool internal once, so a redis-py without them fails at startup."""
    from redis.asyncio import BlockingConnectionPool

    available_connections(pool)
    in_use_connections(pool)
    if isinstance(pool, BlockingConnectionPool):
        pool_condition(pool)


def check_node(node: ClusterNode) -> None:
    """Read every node internal once, so a redis-py without them fails at startup."""
    node_connections(node)
    node_free(node)
