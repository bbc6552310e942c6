"""The Redis pool on Sentinel and on a 3-primary Redis Cluster, both with a password, on loopback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from redis.asyncio import RedisCluster

from fastapi_sentient import RedisClient
from fastapi_sentient.exceptions import ConfigurationError, StartupError
from fastapi_sentient.pools import PoolResizeError
from fastapi_sentient.pools._redis import RedisPool, RedisPoolTimeoutError
from fastapi_sentient.pools._redis_cluster import RedisClusterPool
from tests.pools.conftest import make_app
from tests.support import redis_topologies as topologies
from tests.support.asgi import running as serve
from tests.support.asgi import sample
from tests.support.procs import free_port
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

PASSWORD = "Topo-s3cret-Pw"
KEYS = [f"key:{i}" for i in range(12)]  # spread over the three primaries' slots


@pytest.fixture(scope="module")
def sentinel() -> Iterator[tuple[RedisServer, int]]:
    """A password-protected primary and a Sentinel that knows its password."""
    with topologies.redis_sentinel(PASSWORD) as pair:
        yield pair


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[RedisServer]]:
    """Three password-protected primaries sharing the 16384 slots."""
    with topologies.redis_cluster(PASSWORD) as servers:
        yield servers


def sentinel_url(port: int) -> str:
    return f"redis+sentinel://:{PASSWORD}@127.0.0.1:{port}/mymaster"


def cluster_url(servers: list[RedisServer]) -> str:
    return f"redis+cluster://:{PASSWORD}@" + ",".join(f"127.0.0.1:{s.port}" for s in servers[:2])


def add_routes(app: FastAPI) -> None:
    """The routes of the end-to-end tests: plain RedisClient use."""

    @app.get("/hits")
    async def hits(cache: RedisClient) -> dict[str, Any]:
        return {"hits": await cache.incr("hits"), "cluster": isinstance(cache, RedisCluster)}

    @app.post("/spread")
    async def spread(cache: RedisClient) -> dict[str, int]:
        for key in KEYS:
            await cache.set(key, "v")
        return {"written": len(KEYS)}


async def served_pages(app: FastAPI) -> tuple[dict[str, Any], dict[str, Any], str]:
    """GET /hits twice, then /health and /metrics."""
    async with serve(app) as client:
        assert (await client.get("/hits")).status_code == 200
        second = (await client.get("/hits")).json()
        health = (await client.get("/health")).json()
        metrics = (await client.get("/metrics")).text
        assert (await client.post("/spread")).json() == {"written": len(KEYS)}
    return second, health, metrics


async def test_sentinel_url_serves_routes_health_and_metrics(
    sentinel: tuple[RedisServer, int], caplog: pytest.LogCaptureFixture
) -> None:
    """redis+sentinel://: RedisClient reaches the primary, the check is healthy, redis_pool_* exported, no password shown."""
    caplog.set_level(logging.DEBUG)
    primary, port = sentinel
    app, _ = make_app(redis_url=sentinel_url(port), redis_pool_warmup=2)
    add_routes(app)
    second, health, metrics = await served_pages(app)

    assert second == {"hits": 2, "cluster": False}
    direct = redis.Redis(port=primary.port, password=PASSWORD)
    try:
        assert direct.get("hits") == b"2"
    finally:
        direct.close()
    check = health["details"]["redis"]
    assert check["status"] == "healthy"
    assert check["details"]["url"] == f"redis+sentinel://:***@127.0.0.1:{port}/mymaster"
    assert check["details"]["idle"] >= 1
    assert sample(metrics, "redis_pool_size", pool="redis") == 2
    assert sample(metrics, "redis_pool_max_size", pool="redis") == 50
    assert sample(metrics, "redis_pool_connections_created_total", pool="redis") == 2
    assert (sample(metrics, "redis_pool_acquire_seconds_count", pool="redis") or 0) >= 2
    assert PASSWORD not in str(health) + metrics + caplog.text


async def test_sentinel_pool_waits_times_out_drains_and_recycles(
    sentinel: tuple[RedisServer, int],
) -> None:
    """The Sentinel pool is the blocking pool: a full pool makes callers wait, then 503; drain and recycle work."""
    _, port = sentinel
    pool = RedisPool(sentinel_url(port), max_connections=1, pool_timeout=0.3, socket_timeout=10)
    await pool.open()
    blocker = asyncio.create_task(pool.client.blpop(["never"], timeout=0))
    try:
        await until(lambda: pool.stats().in_use == 1)
        waiter = asyncio.create_task(pool.client.get("x"))
        await until(lambda: pool.stats().waiting == 1)
        with pytest.raises(RedisPoolTimeoutError, match="SENTIENT_REDIS_MAX_CONNECTIONS"):
            await waiter
        assert pool.stats().acquire_timeouts == 1
        blocker.cancel()
        await asyncio.gather(blocker, return_exceptions=True)
        await pool.ping()
        assert await pool.drain() == 1
        assert pool.stats().idle == 0
        await pool.ping()
        await pool.recycle()
        assert pool.stats().size == 0
        await pool.ping()
        assert pool.stats().size == 1
    finally:
        blocker.cancel()
        await asyncio.gather(blocker, return_exceptions=True)
        await pool.close()


async def test_cluster_url_serves_routes_health_and_metrics(
    cluster: list[RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    """redis+cluster://: RedisClient is a RedisCluster writing to every primary; healthy check, redis_pool_*, no password."""
    caplog.set_level(logging.DEBUG)
    app, sentient = make_app(redis_url=cluster_url(cluster), redis_max_connections=8)
    add_routes(app)
    assert isinstance(sentient.pools.redis, RedisClusterPool)
    second, health, metrics = await served_pages(app)

    assert second == {"hits": 2, "cluster": True}
    for server in cluster:  # the keys landed on all three primaries
        direct = redis.Redis(port=server.port, password=PASSWORD)
        try:
            assert direct.dbsize() >= 1
        finally:
            direct.close()
    check = health["details"]["redis"]
    assert check["status"] == "healthy"
    assert check["details"]["url"].startswith("redis+cluster://:***@127.0.0.1:")
    assert check["details"]["max_size"] == 8 * 3
    assert check["details"]["size"] >= 3  # warm-up: one connection to each primary
    assert sample(metrics, "redis_pool_max_size", pool="redis") == 24
    assert (sample(metrics, "redis_pool_idle", pool="redis") or 0) >= 3
    assert (sample(metrics, "redis_pool_connections_created_total", pool="redis") or 0) >= 3
    assert PASSWORD not in str(health) + metrics + caplog.text


async def test_cluster_pool_stats_drain_recycle_and_resize(cluster: list[RedisServer]) -> None:
    """Stats sum the nodes' connections; drain closes the idle ones, recycle all; resize is refused clearly."""
    pool = RedisClusterPool(cluster_url(cluster), max_connections=4, warmup=2)
    await pool.open()
    try:
        stats = pool.stats()
        assert stats.in_use == 0
        assert stats.idle >= 6  # two per primary, and the discovery connection
        assert (stats.size, stats.created, stats.closed) == (stats.idle, stats.idle, 0)
        assert stats.max_size == 12
        drained = await pool.drain()
        assert drained == stats.idle
        assert (pool.stats().idle, pool.stats().closed) == (0, drained)
        await pool.ping()
        assert pool.stats().idle == 3
        await pool.recycle()
        assert pool.stats().size == 0
        await pool.client.set("after-recycle", "ok")
        assert await pool.client.get("after-recycle") == b"ok"
        with pytest.raises(PoolResizeError, match="SENTIENT_REDIS_MAX_CONNECTIONS=8"):
            await pool.resize(8)
    finally:
        await pool.close()
    assert pool.stats().size == 0


async def test_a_full_cluster_node_is_waited_for_then_times_out(cluster: list[RedisServer]) -> None:
    """One connection per node: a second command on that node waits for it, and gives up after the pool timeout."""
    pool = RedisClusterPool(
        cluster_url(cluster), max_connections=1, pool_timeout=1.0, socket_timeout=10
    )
    await pool.open()
    client = pool.client
    node = client.get_node_from_key("{q}jobs")
    pusher = redis.Redis(host=node.host, port=node.port, password=PASSWORD)
    blocker = asyncio.create_task(client.blpop(["{q}jobs"], timeout=0))
    try:
        await until(lambda: pool.stats().in_use == 1)
        waiter = asyncio.create_task(client.get("{q}other"))
        await until(lambda: pool.stats().waiting == 1)
        pusher.lpush("{q}jobs", "job")
        assert await asyncio.wait_for(waiter, 5) is None  # ran once BLPOP gave the node back
        assert tuple(await blocker) == (b"{q}jobs", b"job")

        blocker = asyncio.create_task(client.blpop(["{q}jobs"], timeout=0))
        await until(lambda: pool.stats().in_use == 1)
        with pytest.raises(RedisPoolTimeoutError, match="per node") as caught:
            await client.get("{q}other")
        assert node.name in str(caught.value)
        assert (pool.stats().acquire_timeouts, pool.stats().waiting) == (1, 0)
    finally:
        blocker.cancel()
        await asyncio.gather(blocker, return_exceptions=True)
        pusher.close()
        await pool.close()


async def test_unreachable_cluster_stops_startup_or_answers_503_without_the_password() -> None:
    """No seed node answers: a required pool stops startup with a masked URL; an optional one makes routes 503."""
    url = f"redis+cluster://:{PASSWORD}@127.0.0.1:{free_port()}"
    _, sentient = make_app(redis_url=url)
    with pytest.raises(StartupError, match="could not open") as caught:
        await sentient.pools.start()
    assert "redis+cluster://:***@" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    await sentient.pools.stop()

    app, _ = make_app(redis_url=url, redis_required=False)
    add_routes(app)
    async with serve(app) as client:
        response = await client.get("/hits")
        ready = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["error"] == "redis_unavailable"
    assert PASSWORD not in response.text
    assert ready.status_code == 503


def test_each_url_gets_the_right_pool() -> None:
    """Sentinel URLs build a RedisPool, Cluster URLs a RedisClusterPool; a Cluster database is refused."""
    _, sentient = make_app(redis_url="redis+sentinel://:pw@127.0.0.1:1,127.0.0.1:2/main/3")
    pool = sentient.pools.redis
    assert isinstance(pool, RedisPool)
    assert (pool.endpoint.service, pool.endpoint.db) == ("main", 3)
    _, sentient = make_app(redis_url="redis+cluster://127.0.0.1:1")
    assert isinstance(sentient.pools.redis, RedisClusterPool)
    with pytest.raises(ConfigurationError, match="only database 0"):
        RedisClusterPool("redis+cluster://:pw@127.0.0.1:1/2")
    with pytest.raises(ConfigurationError, match="use RedisPool"):
        RedisClusterPool("redis://127.0.0.1:1")


async def until(condition: Any, timeout: float = 10.0, interval: float = 0.005) -> None:
    """Poll ``condition`` on the loop until it holds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(interval)


async def test_after_a_failover_the_sentinel_pool_reaches_the_new_primary() -> None:
    """The primary dies and Sentinel promotes the replica: the same client writes to the new primary, no restart."""
    with topologies.redis_sentinel_with_replica(PASSWORD) as (primary, replica, port):
        pool = RedisPool(sentinel_url(port), warmup=2, connect_timeout=0.5)
        await pool.open()
        sentinel = redis.Redis(port=port, decode_responses=True)
        new_primary = redis.Redis(port=replica.port, password=PASSWORD)
        try:
            await pool.client.set("before", "1")
            await until(lambda: new_primary.get("before") == b"1")  # replicated
            primary.kill()
            await until(
                lambda: (
                    int(sentinel.sentinel_get_master_addr_by_name("mymaster")[1]) == replica.port
                ),
                timeout=20,
            )
            assert await pool.client.incr("after") == 1
            assert new_primary.get("after") == b"1"
            assert pool.stats().closed >= 1  # the connections to the dead primary
        finally:
            sentinel.close()
            new_primary.close()
            await pool.close()
