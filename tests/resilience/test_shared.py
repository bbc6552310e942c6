"""Policy breakers share open decisions through a real redis-server, and fail open without it."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from fastapi_sentient.resilience import BreakerState, CircuitOpenError
from tests.resilience.dependency import FakeDependency
from tests.resilience.test_http_clients import client_app, wait_for
from tests.support.asgi import running
from tests.support.redis_server import RedisServer

POLICY = {"attempts": 1, "minimum_calls": 2, "window_size": 2, "open_duration": 30.0}


@pytest.mark.integration
async def test_a_breaker_opened_in_one_replica_rejects_in_another(
    dependency: FakeDependency, redis_proc: RedisServer
) -> None:
    """A opens its client's breaker; B, sharing Redis, rejects within a sync interval."""
    shared = {"redis_url": redis_proc.url, "resilience_sync_interval": 0.05}
    app_a, a = client_app(dependency, POLICY, node_id="a", **shared)
    app_b, b = client_app(dependency, POLICY, node_id="b", **shared)
    dependency.status = 503
    async with running(app_a), running(app_b):
        assert a.resilience.shared is not None
        for _ in range(2):
            await a.pools.http("search").get("/search")
        breaker_b = b.resilience.policies["search"].breaker
        assert breaker_b is not None
        await wait_for(lambda: breaker_b.state == BreakerState.OPEN, timeout=5.0)
        sent = dependency.requests
        with pytest.raises(CircuitOpenError) as info:
            await b.pools.http("search").get("/search")
        assert dependency.requests == sent
        assert 25.0 < info.value.retry_after <= 30.0


@pytest.mark.integration
async def test_calls_flow_when_redis_is_gone(
    dependency: FakeDependency, redis_proc: RedisServer
) -> None:
    """With Redis killed, sync errors are counted and each replica decides alone."""
    app, sentient = client_app(dependency, POLICY, resilience_sync_interval=0.05)
    redis = Redis.from_url(redis_proc.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    shared = sentient.resilience.share_breakers(redis, prefix="t:")
    async with running(app):
        redis_proc.kill()
        await wait_for(lambda: shared.errors >= 2, timeout=10.0)
        for _ in range(3):
            assert (await sentient.pools.http("search").get("/search")).status_code == 200
        dependency.status = 503  # window [ok, failed]: 50 % opens it
        assert (await sentient.pools.http("search").get("/search")).status_code == 503
        with pytest.raises(CircuitOpenError):  # the local breaker still decides
            await sentient.pools.http("search").get("/search")
        assert sentient.lifecycle.alive
    await redis.aclose()
