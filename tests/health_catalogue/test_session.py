"""SessionStoreCheck against a throwaway redis-server."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError

from fastapi_sentient import include_plugin
from fastapi_sentient.health._result import HealthStatus
from fastapi_sentient.health.checks import SessionStoreCheck
from fastapi_sentient.settings import SentientSettings
from tests.support.redis_server import RedisServer


async def test_round_trip_is_healthy_and_leaves_no_key(redis_proc: RedisServer) -> None:
    """PING + SET/GET/DEL succeed and no probe key remains."""
    client = Redis.from_url(redis_proc.url)
    try:
        result = await SessionStoreCheck(client)()
        assert result.status == HealthStatus.HEALTHY
        assert result.details["roundTrip"] >= result.details["ping"] >= 0
        assert await client.keys("sentient:health:*") == []
    finally:
        await client.aclose()


async def test_a_store_refusing_writes_fails(redis_proc: RedisServer) -> None:
    """A read-only replica answers PING but fails the write: the check raises."""
    client = Redis.from_url(redis_proc.url)
    try:
        await client.replicaof("127.0.0.1", "1")  # a replica of nothing: read-only
        with pytest.raises(ReadOnlyError):
            await SessionStoreCheck(lambda: client)()
    finally:
        await client.replicaof("NO", "ONE")
        await client.aclose()


async def test_server_gone_fails(redis_proc: RedisServer) -> None:
    """With the server killed the check raises a connection error."""
    client = Redis.from_url(redis_proc.url)
    try:
        redis_proc.kill()
        with pytest.raises(RedisConnectionError):
            await SessionStoreCheck(client)()
    finally:
        await client.aclose()


def test_registered_on_the_apps_redis_pool(redis_proc: RedisServer) -> None:
    """Registered with the app's Redis pool, the check reports in /health and gates /ready."""
    app = FastAPI()
    settings = SentientSettings(
        redis_url=redis_proc.url, system_checks=False, health_details="always"
    )
    sentient = include_plugin(app, settings)
    sentient.health.add(
        "sessions", SessionStoreCheck(lambda: sentient.pools.redis.client), type="dependency"
    )
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
        details = client.get("/health").json()["details"]["sessions"]
        assert details["status"] == "healthy"
        assert "roundTrip" in details["details"]
