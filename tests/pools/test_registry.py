"""PoolRegistry: order, startup failures, reconnects, checks, recycling and metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fastapi_sentient import include_plugin
from fastapi_sentient.exceptions import ConfigurationError, PoolNotFoundError, StartupError
from fastapi_sentient.health._result import HealthStatus
from tests.pools.conftest import make_app, settings
from tests.pools.fakes import ToyPool
from tests.support.procs import wait_until


def test_pools_open_in_order_and_close_in_reverse_around_the_user_lifespan() -> None:
    """Pools open before the user's lifespan and close after it, last opened first closed."""
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("user-start")
        yield
        events.append("user-stop")

    app = FastAPI(lifespan=lifespan)
    sentient = include_plugin(app, settings())
    sentient.pools.register(ToyPool("a", events=events))
    sentient.pools.register(ToyPool("b", events=events))
    with TestClient(app):
        pass
    assert events == ["open:a", "open:b", "user-start", "user-stop", "close:b", "close:a"]


def test_get_names_the_registered_pools_when_missing() -> None:
    """An unknown name raises PoolNotFoundError listing what exists."""
    _, sentient = make_app()
    sentient.pools.register(ToyPool("cache"))
    assert sentient.pools.get("cache").name == "cache"
    assert "cache" in sentient.pools
    with pytest.raises(PoolNotFoundError, match="registered: cache"):
        sentient.pools.get("nope")
    with pytest.raises(PoolNotFoundError, match="SENTIENT_DATABASE_URL"):
        _ = sentient.pools.db
    with pytest.raises(PoolNotFoundError, match="not an HTTP provider pool"):
        sentient.pools.http("cache")


def test_duplicate_names_and_non_pools_are_refused() -> None:
    """Registering two pools under one name, or a non-pool, is a configuration error."""
    _, sentient = make_app()
    sentient.pools.register(ToyPool("x"))
    with pytest.raises(ConfigurationError, match="already registered"):
        sentient.pools.register(ToyPool("x"))
    with pytest.raises(ConfigurationError, match="does not implement"):
        sentient.pools.register(object())  # type: ignore[arg-type]


def test_required_pool_failing_stops_startup_with_one_masked_line() -> None:
    """A required pool that cannot open raises StartupError: one line, pool named, password masked."""
    app, sentient = make_app()
    sentient.pools.register(ToyPool("vault", up=False))
    with pytest.raises(StartupError) as caught, TestClient(app):
        pass
    message = str(caught.value)
    assert "\n" not in message
    assert "pool 'vault' (toy://user:***@127.0.0.1:1/) could not open" in message
    assert "hunter22" not in message


def test_optional_pool_starts_unhealthy_and_reconnects_by_itself() -> None:
    """An optional pool that cannot open starts unhealthy; once its server is up it reconnects."""
    app, sentient = make_app(health_interval=0.1)
    pool = ToyPool("cache", required=False, up=False)
    sentient.pools.register(pool)
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 503
        assert sentient.health.checks["toy:cache"].status == HealthStatus.UNHEALTHY
        pool.up = True
        wait_until(lambda: client.get("/ready").status_code == 200, 10, what="reconnect")
        wait_until(lambda: pool.open_connections == 1, 10, what="reopened pool")
    assert pool.opens >= 2


def test_non_critical_pool_does_not_gate_readiness() -> None:
    """A failing non-critical pool is reported but /ready stays 200."""
    app, sentient = make_app()
    sentient.pools.register(ToyPool("side", required=False, critical=False, up=False))
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
        details = client.get("/health").json()["details"]["toy:side"]
        assert details["status"] == "unhealthy"


def test_critical_pool_failing_fail_after_times_is_recycled() -> None:
    """After fail_after failed checks in a row a critical pool is recycled, and again later."""
    app, sentient = make_app(health_interval=0.1, health_fail_after=3)
    pool = ToyPool("db2")
    sentient.pools.register(pool)
    with TestClient(app):
        pool.up = False
        wait_until(lambda: pool.recycles >= 2, 10, what="two recycles")
        check = sentient.health.checks["toy:db2"]
        assert check.consecutive_failures >= 6
        pool.up = True
        wait_until(lambda: check.status == HealthStatus.HEALTHY, 10, what="recovery")


def test_health_details_list_pool_stats_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """/health details carry each pool's stats and masked URL; the password appears nowhere."""
    caplog.set_level(logging.INFO)
    app, sentient = make_app()
    sentient.pools.register(ToyPool("main"))
    sentient.pools.register(ToyPool("spare", required=False, up=False))
    with TestClient(app) as client:
        body = client.get("/health").text
        details = client.get("/health").json()["details"]
        metrics = client.get("/metrics").text
    main = details["toy:main"]["details"]
    assert main["size"] == 1
    assert main["created"] == 1
    assert main["url"] == "toy://user:***@127.0.0.1:1/"
    assert {"in_use", "idle", "overflow", "waiting", "acquire_timeouts"} <= set(main)
    assert "hunter22" not in body + metrics + caplog.text


def test_user_kind_gets_its_own_metric_prefix() -> None:
    """A pool of kind 'toy' is exported as toy_pool_* gauges and counters."""
    app, sentient = make_app()
    sentient.pools.register(ToyPool("main"))
    with TestClient(app) as client:
        text = client.get("/metrics").text
    assert 'toy_pool_size{pool="main"} 1.0' in text
    assert 'toy_pool_max_size{pool="main"} 2.0' in text
    assert 'toy_pool_connections_created_total{pool="main"} 1.0' in text
    assert 'toy_pool_acquire_timeouts_total{pool="main"} 0.0' in text
    assert 'toy_pool_waiting{pool="main"} 0.0' in text


def test_registering_after_startup_is_refused() -> None:
    """A pool registered while the app runs would never open; it is refused with the fix."""
    app, sentient = make_app()
    with TestClient(app), pytest.raises(ConfigurationError, match="before the app starts"):
        sentient.pools.register(ToyPool("late"))


def test_a_second_lifespan_reopens_the_pools(sqlite_url: str) -> None:
    """Stopping and starting the app again (as test suites do) reopens every pool cleanly."""
    app, sentient = make_app(database_url=sqlite_url)
    toy = ToyPool("side")
    sentient.pools.register(toy)
    for _ in range(2):
        with TestClient(app) as client:
            details = client.get("/health").json()["details"]
            assert details["db"]["status"] == "healthy"
            assert details["toy:side"]["status"] == "healthy"
    assert sentient.pools.db.stats().created == 2
    assert toy.opens == 2
