"""Outages against a real uvicorn app: fail fast, turn unready, stay live, recover alone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.pools.postgres_server import PostgresServer
from tests.support.procs import AppProcess, app_process, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

PASSWORD = "Sup3rS3cretPw"


@pytest.fixture
def redis_pw() -> Iterator[RedisServer]:
    """A throwaway redis-server that requires a password."""
    server = RedisServer(extra=["--requirepass", PASSWORD]).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def served(pg_server: PostgresServer, redis_pw: RedisServer) -> Iterator[AppProcess]:
    """tests.pools.apps under uvicorn on the throwaway PostgreSQL and Redis."""
    redis_url = redis_pw.url.replace("redis://", f"redis://:{PASSWORD}@")
    env = {
        "SENTIENT_DATABASE_URL": pg_server.url(PASSWORD),
        "SENTIENT_REDIS_URL": redis_url,
        "SENTIENT_HEALTH_INTERVAL": "0.3",
        "SENTIENT_HEALTH_TIMEOUT": "1",
        "SENTIENT_HEALTH_DETAILS": "always",
        "SENTIENT_SYSTEM_CHECKS": "false",
        "SENTIENT_DB_POOL_TIMEOUT": "2",
    }
    with app_process("tests.pools.apps:app", env) as app:
        yield app


def status(app: AppProcess, path: str) -> int:
    try:
        return httpx2.get(app.url + path, timeout=10).status_code
    except httpx2.HTTPError:
        return 0


def timed_get(app: AppProcess, path: str) -> tuple[httpx2.Response, float]:
    started = time.monotonic()
    response = httpx2.get(app.url + path, timeout=30)
    return response, time.monotonic() - started


def test_postgres_and_redis_outages_fail_fast_and_recover(
    served: AppProcess, pg_server: PostgresServer, redis_pw: RedisServer
) -> None:
    """Stopping each server: its route errors within 5 s, /ready 503, /live 200; back: recovered."""
    app = served
    assert httpx2.get(app.url + "/db").json() == {"value": 42}
    assert httpx2.get(app.url + "/redis").json() == {"value": 1}

    pg_server.stop()
    response, elapsed = timed_get(app, "/db")
    assert response.status_code == 503, response.text
    assert elapsed < 5.0
    wait_until(lambda: status(app, "/ready") == 503, 10, what="/ready 503 without PostgreSQL")
    assert status(app, "/live") == 200
    assert status(app, "/redis") == 200

    pg_server.start()
    wait_until(lambda: status(app, "/db") == 200, 20, what="/db back")
    wait_until(lambda: status(app, "/ready") == 200, 20, what="/ready back")

    redis_pw.kill()
    response, elapsed = timed_get(app, "/redis")
    assert response.status_code == 503, response.text
    assert elapsed < 5.0
    wait_until(lambda: status(app, "/ready") == 503, 10, what="/ready 503 without Redis")
    assert status(app, "/live") == 200
    assert status(app, "/db") == 200

    redis_pw.start()
    wait_until(lambda: status(app, "/redis") == 200, 20, what="/redis back")
    wait_until(lambda: status(app, "/ready") == 200, 20, what="/ready back")

    health = httpx2.get(app.url + "/health").json()["details"]
    for name in ("db", "redis"):
        stats = health[name]["details"]
        assert {"size", "in_use", "idle", "waiting", "created", "closed"} <= set(stats)
        assert stats["created"] >= 2  # reconnected after the outage
    everything = (
        httpx2.get(app.url + "/health").text + httpx2.get(app.url + "/metrics").text + app.output()
    )
    assert PASSWORD not in everything
    assert "db_pool_in_use" in everything
    assert "redis_pool_acquire_seconds_bucket" in everything
