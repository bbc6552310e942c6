"""Named HTTP clients under their policy, against a real dependency on 127.0.0.1.

The acceptance of the resilience layer: a dependency failing at 60 % opens its
breaker; while open no request reaches it; after the open interval exactly the
configured probes are sent and their success closes it; a hanging dependency is
cut at the deadline; the bulkhead refuses the call beyond its limit at once; a
429 with ``Retry-After: 2`` is retried no sooner than 2 s later; and retries never
exceed the budget.  Counts are taken at the server.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import httpx2
import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fastapi_sentient import ConfigurationError, Sentient, http_client, include_plugin
from fastapi_sentient.resilience import (
    BreakerState,
    BulkheadFullError,
    CircuitOpenError,
    DeadlineExceededError,
)
from tests.resilience.dependency import FakeDependency
from tests.support.asgi import quiet_settings, running


def client_app(
    dependency: FakeDependency, policy: dict[str, Any] | str | None = None, **extra: Any
) -> tuple[FastAPI, Sentient]:
    entry: dict[str, Any] = {"base_url": dependency.url, "health_path": "healthz"}
    if policy is not None:
        entry["policy"] = policy
    entry.update(extra.pop("entry", {}))
    app = FastAPI()
    settings = quiet_settings(http_clients={"search": entry}, health_details="always", **extra)
    sentient = include_plugin(app, settings)

    @app.get("/tool")
    async def tool(client: Annotated[httpx2.AsyncClient, http_client("search")]) -> dict[str, Any]:
        response = await client.get("/search", params={"q": "x"})
        return {"status": response.status_code}

    return app, sentient


def value(sentient: Sentient, metric: str, **labels: str) -> float | None:
    """One sample by its labels (``breaker`` stands for the ``name`` label)."""
    if "breaker" in labels:
        labels["name"] = labels.pop("breaker")
    text = generate_latest(sentient.metrics.registry).decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


BREAKER = {
    "attempts": 1,
    "minimum_calls": 10,
    "window_size": 10,
    "failure_rate": 0.5,
    "open_duration": 0.5,
    "half_open_calls": 3,
}


async def test_sixty_percent_failures_open_reject_without_requests_then_probes_close(
    dependency: FakeDependency,
) -> None:
    """10 calls at 60 % failure open it; 20 calls while open reach nobody; 3 probes close it."""
    app, sentient = client_app(dependency, BREAKER)
    dependency.script.extend([503, 200, 503, 503, 200, 503, 200, 503, 200, 503])
    async with running(app) as web:
        client = sentient.pools.http("search")
        breaker = sentient.resilience.policies["search"].breaker
        assert breaker is not None
        for index in range(10):
            assert breaker.state == BreakerState.CLOSED, f"opened after {index} calls"
            await client.get("/search")
        assert breaker.state == BreakerState.OPEN
        assert dependency.requests == 10

        for _ in range(20):
            with pytest.raises(CircuitOpenError) as info:
                await client.get("/search")
            assert 0 < info.value.retry_after <= 0.5
        assert dependency.requests == 10  # nothing reached the server while open

        answer = await web.get("/tool")  # unhandled in a route: 503 with Retry-After
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"] == "circuit_open"
        health = (await web.get("/health")).json()
        assert health["status"] == "degraded"
        assert health["details"]["dependency:search"]["status"] == "degraded"

        await wait_for(lambda: breaker.state == BreakerState.HALF_OPEN)
        dependency.delay = 0.3  # the probes are in flight together
        results = await asyncio.gather(
            *(client.get("/search") for _ in range(10)), return_exceptions=True
        )
        ok = [r for r in results if isinstance(r, httpx2.Response)]
        refused = [r for r in results if isinstance(r, CircuitOpenError)]
        assert (len(ok), len(refused)) == (3, 7)
        assert dependency.requests == 13  # exactly the three probes
        assert breaker.state == BreakerState.CLOSED
        await wait_for(
            lambda: sentient.health.checks["dependency:search"].status.value == "healthy"
        )
    assert value(sentient, "circuit_breaker_state", breaker="search") == 0
    assert (
        value(
            sentient,
            "circuit_breaker_transitions_total",
            breaker="search",
            from_state="closed",
            to_state="open",
        )
        == 1
    )
    assert (
        value(
            sentient,
            "circuit_breaker_transitions_total",
            breaker="search",
            from_state="half_open",
            to_state="closed",
        )
        == 1
    )
    labels = {"dependency": "search", "outcome": "circuit_open", "status_class": "none"}
    assert value(sentient, "dependency_requests_total", **labels) == 21 + 7
    labels = {"dependency": "search", "outcome": "error", "status_class": "5xx"}
    assert value(sentient, "dependency_requests_total", **labels) == 6
    labels = {"dependency": "search", "outcome": "success", "status_class": "2xx"}
    assert value(sentient, "dependency_request_duration_seconds_count", **labels) == 7


async def test_hanging_dependency_is_cut_at_the_deadline(dependency: FakeDependency) -> None:
    """A dependency that never answers is cut when the 0.5 s deadline passes, and not retried."""
    app, sentient = client_app(dependency, {"deadline": 0.5, "attempts": 3})
    dependency.delay = 30.0
    async with running(app):
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            await sentient.pools.http("search").get("/search")
        elapsed = time.monotonic() - started
    assert elapsed >= 0.45
    assert elapsed < 10.0  # did not wait for the server
    assert dependency.requests == 1
    assert value(sentient, "dependency_requests_total", dependency="search", outcome="timeout") == 1


async def test_bulkhead_refuses_the_call_beyond_the_limit_at_once(
    dependency: FakeDependency,
) -> None:
    """With max_concurrency 2 and two calls in flight, the third is refused before they end."""
    app, sentient = client_app(dependency, {"max_concurrency": 2})
    dependency.delay = 2.0
    async with running(app):
        client = sentient.pools.http("search")
        running_calls = [asyncio.create_task(client.get("/search")) for _ in range(2)]
        await wait_for(lambda: dependency.requests == 2)
        with pytest.raises(BulkheadFullError):
            await client.get("/search")
        assert not any(task.done() for task in running_calls)  # refused while both still ran
        assert [r.status_code for r in await asyncio.gather(*running_calls)] == [200, 200]
    assert dependency.requests == 2
    assert value(sentient, "dependency_bulkhead_rejections_total", dependency="search") == 1


async def test_429_with_retry_after_is_retried_after_it(dependency: FakeDependency) -> None:
    """A 429 with Retry-After: 2 is retried no sooner than 2 s later, when the deadline allows."""
    app, sentient = client_app(dependency, {"deadline": 10.0, "attempts": 2})
    dependency.script.append(429)
    dependency.retry_after = "2"
    async with running(app):
        response = await sentient.pools.http("search").get("/search")
    assert response.status_code == 200
    assert dependency.requests == 2
    assert dependency.times[1] - dependency.times[0] >= 2.0
    assert value(sentient, "dependency_retries_total", dependency="search", reason="429") == 1


async def test_429_beyond_the_deadline_is_answered_as_it_is(dependency: FakeDependency) -> None:
    """With 1 s of deadline a Retry-After of 2 s is not waited for: the 429 comes back at once."""
    app, sentient = client_app(dependency, {"deadline": 1.0, "attempts": 3})
    dependency.script.append(429)
    dependency.retry_after = "2"
    async with running(app):
        response = await sentient.pools.http("search").get("/search")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert dependency.requests == 1


async def test_retries_never_exceed_the_budget(dependency: FakeDependency) -> None:
    """N calls to an always-failing server send at most N × (1 + ratio) requests."""
    calls, ratio = 30, 0.2
    policy = {
        "breaker": False,
        "attempts": 3,
        "base_delay": 0.001,
        "max_delay": 0.002,
        "budget_ratio": ratio,
        "budget_min_per_second": 0.0,
    }
    app, sentient = client_app(dependency, policy)
    dependency.status = 503
    async with running(app):
        client = sentient.pools.http("search")
        for _ in range(calls):
            assert (await client.get("/search")).status_code == 503
    assert calls < dependency.requests <= calls * (1 + ratio)
    exhausted = value(sentient, "dependency_retry_budget_exhausted_total", dependency="search")
    assert exhausted is not None and exhausted > 0


async def test_client_errors_neither_retry_nor_trip(dependency: FakeDependency) -> None:
    """404s are the caller's problem: one request each, and the breaker stays closed."""
    app, sentient = client_app(dependency, {**BREAKER, "attempts": 3})
    dependency.status = 404
    async with running(app):
        for _ in range(12):
            assert (await sentient.pools.http("search").get("/search")).status_code == 404
    breaker = sentient.resilience.policies["search"].breaker
    assert breaker is not None and breaker.state == BreakerState.CLOSED
    assert dependency.requests == 12


async def test_secret_headers_come_from_the_environment_and_stay_secret(
    dependency: FakeDependency, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header's value is read from the named variable, sent, and masked in /health."""
    secret = "search-key-0123456789abcdef"
    monkeypatch.setenv("SEARCH_API_KEY", secret)
    app, sentient = client_app(
        dependency,
        entry={"secret_headers": {"X-Api-Key": "SEARCH_API_KEY"}, "headers": {"X-Tool": "agent"}},
    )
    async with running(app) as web:
        await sentient.pools.http("search").get("/search")
        report = (await web.get("/health")).text
    assert dependency.headers[0]["x-api-key"] == secret
    assert dependency.headers[0]["x-tool"] == "agent"
    assert secret not in report
    assert "http:search" in report


def test_missing_secret_variable_stops_startup(
    dependency: FakeDependency, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret header whose variable is unset is one clear configuration error."""
    monkeypatch.delenv("SEARCH_API_KEY", raising=False)
    with pytest.raises(
        ConfigurationError, match=r"search\.secret_headers\.X-Api-Key.*SEARCH_API_KEY"
    ):
        client_app(dependency, entry={"secret_headers": {"X-Api-Key": "SEARCH_API_KEY"}})


def test_unknown_policy_name_stops_startup(dependency: FakeDependency) -> None:
    """A client naming a policy that is not configured is refused with the variable named."""
    with pytest.raises(ConfigurationError, match=r"SENTIENT_HTTP_CLIENTS \(search\.policy\)"):
        client_app(dependency, "nope")


async def test_named_policy_is_shared_and_health_probe_bypasses_it(
    dependency: FakeDependency,
) -> None:
    """A client may use a configured policy by name; its health probe is not a breaker sample."""
    app, sentient = client_app(
        dependency, "tools", resilience_policies={"tools": {"attempts": 1, "minimum_calls": 1}}
    )
    async with running(app) as web:
        await sentient.health.refresh("http:search")
        assert dependency.health_requests >= 1
        breaker = sentient.resilience.policies["tools"].breaker
        assert breaker is not None and breaker.snapshot()["calls"] == 0
        assert (await web.get("/tool")).json() == {"status": 200}
        assert breaker.snapshot()["calls"] == 1
