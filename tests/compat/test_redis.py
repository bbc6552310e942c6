"""redis-py pool internals read by fastapi_sentient._compat.redis, on real pools and a real server."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode

from fastapi_sentient._compat import redis as redis_compat
from fastapi_sentient.exceptions import LibraryInternalsError
from tests.support.redis_server import RedisServer


async def test_pool_lists_follow_a_connection_out_and_back(redis_proc: RedisServer) -> None:
    """A taken connection is in use, a released one is available, on redis-py's blocking pool."""
    pool = BlockingConnectionPool.from_url(redis_proc.url, max_connections=2, timeout=1)
    redis_compat.check_pool(pool)
    try:
        connection = await pool.get_connection()
        assert connection in redis_compat.in_use_connections(pool)
        assert redis_compat.available_connections(pool) == []
        await pool.release(connection)
        assert len(redis_compat.in_use_connections(pool)) == 0
        assert redis_compat.available_connections(pool) == [connection]
        assert connection.is_connected
    finally:
        await pool.disconnect()


async def test_available_list_is_the_pools_own(redis_proc: RedisServer) -> None:
    """Removing from the returned list removes from the pool: a resize retires connections so."""
    client = Redis.from_url(redis_proc.url)
    pool = client.connection_pool
    try:
        await client.ping()
        available = redis_compat.available_connections(pool)
        assert len(available) == 1
        await available.pop().disconnect()
        assert redis_compat.available_connections(pool) == []
    finally:
        await client.aclose()


async def test_condition_wakes_a_caller_waiting_for_a_connection(redis_proc: RedisServer) -> None:
    """The blocking pool's condition is what a waiting ``get_connection`` waits on."""
    pool = BlockingConnectionPool.from_url(redis_proc.url, max_connections=1, timeout=10)
    try:
        held = await pool.get_connection()
        waiter = asyncio.create_task(pool.get_connection())
        condition = redis_compat.pool_condition(pool)
        assert isinstance(condition, asyncio.Condition)
        async with asyncio.timeout(10):
            while not condition._waiters:  # asyncio's own list: the caller is waiting now
                await asyncio.sleep(0.005)
        pool.max_connections = 2
        async with condition:
            condition.notify_all()
        async with asyncio.timeout(10):
            second = await waiter
        assert second is not held
        await pool.release(held)
        await pool.release(second)
    finally:
        await pool.disconnect()


async def test_cluster_node_lists_follow_a_connection(redis_proc: RedisServer) -> None:
    """A Redis Cluster node's connection list and free queue, on a real connection."""
    node = ClusterNode("127.0.0.1", redis_proc.port, max_connections=2)
    redis_compat.check_node(node)
    try:
        connection = node.acquire_connection()
        await connection.connect()
        assert redis_compat.node_connections(node) == [connection]
        assert list(redis_compat.node_free(node)) == []
        node.release(connection)
        assert list(redis_compat.node_free(node)) == [connection]
    finally:
        await node.disconnect()


def test_a_missing_internal_names_library_version_and_attribute() -> None:
    """An object without the internals fails loudly, naming redis, its version and the attribute."""

    class NotAPool(ConnectionPool):
        def __init__(self) -> None:
            pass

    with pytest.raises(
        LibraryInternalsError, match=r"^redis \d[\w.]* has no _available_connections"
    ):
        redis_compat.check_pool(NotAPool())
