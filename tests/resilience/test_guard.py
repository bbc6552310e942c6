"""``sentient.resilience.guard``: any async callable or block under a named policy."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from fastapi import FastAPI

from fastapi_sentient import ConfigurationError, SentientDep
from fastapi_sentient.resilience import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    DeadlineExceededError,
)
from tests.resilience.dependency import FakeDependency
from tests.resilience.test_http_clients import value
from tests.support.asgi import plugged_app, running


async def test_decorator_retries_a_tool_call_and_counts_its_attempts(
    dependency: FakeDependency,
) -> None:
    """A guarded function that raises on a 503 is retried; each attempt is one sample."""
    app, sentient = plugged_app()
    dependency.script.extend([503, 503])

    @sentient.resilience.guard("vector-db", attempts=3, base_delay=0.001)
    async def nearest(client: httpx2.AsyncClient) -> list[str]:
        response = await client.post(f"{dependency.url}/query", json={"vector": [0.1]})
        response.raise_for_status()
        return list(response.json()["hits"])

    async with running(app), httpx2.AsyncClient() as client:
        assert await nearest(client) == ["doc-1"]
    assert dependency.requests == 3
    assert value(sentient, "dependency_retries_total", dependency="vector-db", reason="503") == 2
    labels = {"dependency": "vector-db", "outcome": "error", "status_class": "5xx"}
    assert value(sentient, "dependency_requests_total", **labels) == 2


async def test_context_manager_guards_a_block_and_opens_the_breaker(
    dependency: FakeDependency,
) -> None:
    """Blocks are samples too; once open, the block is refused before it runs."""
    app, sentient = plugged_app()
    guard = sentient.resilience.guard("index", minimum_calls=2, window_size=2, open_duration=30)
    dependency.status = 500
    async with running(app), httpx2.AsyncClient() as client:
        for _ in range(2):
            with pytest.raises(httpx2.HTTPStatusError):
                async with guard:
                    (await client.get(f"{dependency.url}/q")).raise_for_status()
        with pytest.raises(CircuitOpenError) as info:
            async with guard:
                await client.get(f"{dependency.url}/q")
        assert 25 < info.value.retry_after <= 30
    assert dependency.requests == 2
    assert value(sentient, "circuit_breaker_state", breaker="index") == 1


async def test_one_guard_entered_by_many_tasks_at_once() -> None:
    """Entries of one Guard object from concurrent tasks do not mix their state."""
    app, sentient = plugged_app()
    guard = sentient.resilience.guard("shared-guard", max_concurrency=10)
    order: list[int] = []

    async def work(n: int) -> None:
        async with guard:
            await asyncio.sleep(0.01 * (5 - n))
            order.append(n)

    async with running(app):
        await asyncio.gather(*(work(n) for n in range(5)))
    assert sorted(order) == [0, 1, 2, 3, 4]
    labels = {"dependency": "shared-guard", "outcome": "success", "status_class": "none"}
    assert value(sentient, "dependency_requests_total", **labels) == 5


async def test_block_is_cut_at_the_deadline() -> None:
    """A block outliving the policy's deadline is cancelled and reported as DeadlineExceededError."""
    app, sentient = plugged_app()
    async with running(app):
        with pytest.raises(DeadlineExceededError):
            async with sentient.resilience.guard("slow", deadline=0.2):
                await asyncio.sleep(30)


async def test_unhandled_open_circuit_in_a_route_is_a_503_with_retry_after() -> None:
    """The route lets CircuitOpenError escape: the caller gets 503 and the seconds to wait."""
    app: FastAPI
    app, sentient = plugged_app()
    guard = sentient.resilience.guard("search-api", minimum_calls=1, window_size=1)

    @app.get("/answer")
    async def answer(s: SentientDep) -> dict[str, str]:
        async with guard:
            raise ConnectionError("search API unreachable")

    async with running(app) as web:
        with pytest.raises(ConnectionError):
            await web.get("/answer")
        response = await web.get("/answer")
    assert response.status_code == 503
    assert 28 <= int(response.headers["retry-after"]) <= 30
    assert response.json()["error"] == "circuit_open"


async def test_a_breaker_built_by_hand_is_exported_and_reported() -> None:
    """register_breaker: the state gauge, transitions and a degraded dependency in /health."""
    app, sentient = plugged_app(health_details="always")
    breaker = sentient.resilience.register_breaker(
        CircuitBreaker("payments", BreakerConfig(minimum_calls=1, window_size=1))
    )
    async with running(app) as web:
        breaker.force_open(30)
        assert breaker.state == BreakerState.OPEN

        async def degraded() -> bool:
            body = (await web.get("/health")).json()
            return bool(body["details"]["dependency:payments"]["status"] == "degraded")

        for _ in range(100):
            if await degraded():
                break
            await asyncio.sleep(0.02)
        assert await degraded()
    assert value(sentient, "circuit_breaker_state", breaker="payments") == 1
    labels = {"breaker": "payments", "from_state": "closed", "to_state": "open"}
    assert value(sentient, "circuit_breaker_transitions_total", **labels) == 1


def test_guard_refuses_sync_functions_and_conflicting_overrides() -> None:
    """Misuse is a clear error at decoration or configuration time."""
    _, sentient = plugged_app()
    with pytest.raises(TypeError, match="async"):
        sentient.resilience.guard("x")(lambda: None)  # type: ignore[arg-type]
    sentient.resilience.guard("y", attempts=2)
    with pytest.raises(ConfigurationError, match="already exists"):
        sentient.resilience.guard("y", attempts=5)
    with pytest.raises(ConfigurationError, match="invalid settings"):
        sentient.resilience.guard("z", failure_rate=2.0)


def test_configured_policies_exist_from_the_start() -> None:
    """SENTIENT_RESILIENCE_POLICIES entries are policies before any guard is taken."""
    _, sentient = plugged_app(resilience_policies={"vector-db": {"max_concurrency": 4}})
    policy = sentient.resilience.policies["vector-db"]
    assert policy.bulkhead is not None and policy.bulkhead.gate.capacity == 4
    assert sentient.resilience.guard("vector-db").policy is policy
