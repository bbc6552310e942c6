"""RedisPool against throwaway redis-server processes."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_sentient.exceptions import ConfigurationError, NotStartedError, PoolTimeoutError
from fastapi_sentient.pools import PoolResizeError
from fastapi_sentient.pools._redis import RedisPool, RedisPoolTimeoutError
from tests.pools.conftest import make_app
from tests.support.redis_server import RedisServer


async def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition`` on the loop until it holds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_exhausted_pool_times_out_clearly_and_counts_it(redis_proc: RedisServer) -> None:
    """max_connections=2 held by blocking commands: a third caller waits, then times out, counted."""
    _, sentient = make_app(
        redis_url=redis_proc.url, redis_max_connections=2, redis_pool_timeout=0.3
    )
    await sentient.pools.start()
    pool = sentient.pools.redis
    client = pool.client
    blockers = [asyncio.create_task(client.blpop([f"never{i}"], timeout=0)) for i in range(2)]
    try:
        await wait_for(lambda: pool.stats().in_use == 2)
        third = asyncio.create_task(client.get("x"))
        await wait_for(lambda: pool.stats().waiting == 1)
        with pytest.raises(RedisPoolTimeoutError, match="exhausted") as caught:
            await third
        assert isinstance(caught.value, PoolTimeoutError)
        assert "SENTIENT_REDIS_MAX_CONNECTIONS" in str(caught.value)
        registry = sentient.metrics.registry
        assert (
            registry.get_sample_value("redis_pool_acquire_timeouts_total", {"pool": "redis"}) == 1
        )
    finally:
        for task in blockers:
            task.cancel()
        await asyncio.gather(*blockers, return_exceptions=True)
        await sentient.pools.stop()


async def test_cancelled_commands_do_not_leak_pool_slots(redis_proc: RedisServer) -> None:
    """20 slow commands cancelled mid-flight on a 2-connection pool; the next command succeeds."""
    pool = RedisPool(redis_proc.url, max_connections=2, pool_timeout=2.0)
    await pool.open()
    try:
        tasks = [asyncio.create_task(pool.client.blpop([f"slow{i}"], timeout=0)) for i in range(20)]
        await wait_for(lambda: pool.stats().in_use == 2 and pool.stats().waiting == 18)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert pool.stats().in_use == 0
        assert pool.stats().waiting == 0
        assert await pool.client.set("after", "ok")
        assert await pool.client.get("after") == b"ok"
    finally:
        await pool.close()


async def test_warmup_stats_drain_and_close(redis_proc: RedisServer) -> None:
    """Warm connections are created idle; drain closes them; close counts the rest."""
    pool = RedisPool(redis_proc.url, max_connections=5, warmup=3)
    await pool.open()
    try:
        stats = pool.stats()
        assert (stats.created, stats.idle, stats.in_use, stats.max_size) == (3, 3, 0, 5)
        assert await pool.drain() == 3
        stats = pool.stats()
        assert (stats.idle, stats.closed) == (0, 3)
        await pool.ping()
        assert pool.stats().created == 4
    finally:
        await pool.close()
    assert pool.stats().closed == 4


async def test_resize_grows_and_shrinks(redis_proc: RedisServer) -> None:
    """resize() changes max_connections; a waiter proceeds when the pool grows."""
    pool = RedisPool(redis_proc.url, max_connections=1, pool_timeout=5.0, warmup=1)
    await pool.open()
    try:
        blocker = asyncio.create_task(pool.client.blpop(["never"], timeout=0))
        await wait_for(lambda: pool.stats().in_use == 1)
        waiter = asyncio.create_task(pool.client.ping())
        await wait_for(lambda: pool.stats().waiting == 1)
        await pool.resize(3)
        assert await asyncio.wait_for(waiter, 5) is True
        assert pool.stats().max_size == 3
        blocker.cancel()
        await asyncio.gather(blocker, return_exceptions=True)
        await asyncio.gather(*(pool.client.ping() for _ in range(3)))
        await pool.resize(1)
        stats = pool.stats()
        assert stats.max_size == 1
        assert stats.size <= 1
        with pytest.raises(PoolResizeError):
            await pool.resize(0)
    finally:
        await pool.close()


async def test_recycle_after_a_restart_reconnects(redis_proc: RedisServer) -> None:
    """After the server restarts, recycle() drops dead sockets and the next command works."""
    pool = RedisPool(redis_proc.url, warmup=2, max_connections=4)
    await pool.open()
    try:
        redis_proc.restart()
        await pool.recycle()
        assert pool.stats().size == 0
        await pool.ping()
        assert pool.stats().created == 3
    finally:
        await pool.close()


def test_cluster_and_unknown_schemes_and_use_before_open_are_clear_errors() -> None:
    """RedisPool points a Cluster URL to RedisClusterPool, refuses unknown schemes, and is unusable before open()."""
    with pytest.raises(ConfigurationError, match="RedisClusterPool") as caught:
        RedisPool("redis+cluster://:pw-secret@h:7000")
    assert "pw-secret" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="redis\\+sentinel://"):
        RedisPool("memcached://h:11211")
    with pytest.raises(NotStartedError, match="'redis' is not open"):
        _ = RedisPool("redis://127.0.0.1:1/0").client


async def blpop_client(admin: Redis, *, other_than: int | None = None) -> int:
    """The id of the connection blocked in BLPOP, once there is one (not ``other_than``)."""
    async with asyncio.timeout(10):
        while True:
            for client in await admin.client_list():
                if client["cmd"] == "blpop" and int(client["id"]) != other_than:
                    return int(client["id"])
            await asyncio.sleep(0.005)


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_command_on_a_killed_connection_is_retried(
    redis_proc: RedisServer, retries: int
) -> None:
    """SENTIENT_REDIS_RETRIES: a BLPOP whose connection the server kills is sent again (or, at 0, fails)."""
    pool = RedisPool(redis_proc.url, retries=retries, socket_timeout=10)
    await pool.open()
    admin = Redis(port=redis_proc.port)
    task = asyncio.create_task(pool.client.blpop(["jobs"], timeout=0))
    try:
        first = await blpop_client(admin)
        await admin.client_kill_filter(_id=str(first))
        if retries == 0:
            with pytest.raises(RedisConnectionError):
                await asyncio.wait_for(task, 5)
            return
        await blpop_client(admin, other_than=first)
        await admin.lpush("jobs", "done")
        assert await asyncio.wait_for(task, 5) == (b"jobs", b"done")
        assert pool.stats().closed == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await admin.aclose()
        await pool.close()
