"""The resilience metrics pass ``promtool check metrics`` with breakers, clients and policies in use."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from fastapi_sentient.resilience import (
    BreakerConfig,
    BulkheadFullError,
    CircuitBreaker,
    CircuitOpenError,
)
from tests.resilience.dependency import FakeDependency
from tests.resilience.test_http_clients import client_app
from tests.support.asgi import running
from tests.support.redis_server import require_binary


@pytest.mark.integration
async def test_promtool_finds_nothing_to_report(dependency: FakeDependency) -> None:
    """Every resilience series family is present and promtool has no complaint about any."""
    promtool = require_binary("promtool", "prometheus")
    policy = {"attempts": 2, "base_delay": 0.001, "minimum_calls": 4, "window_size": 4}
    app, sentient = client_app(dependency, policy)
    sentient.resilience.register_breaker(CircuitBreaker("payments", BreakerConfig()))
    guard = sentient.resilience.guard("vector-db", max_concurrency=1, attempts=1)
    dependency.script.extend([503, 429, 200, 404])
    async with running(app) as web:
        client = sentient.pools.http("search")
        for _ in range(3):
            await client.get("/search")
        dependency.status = 503
        refused = 0
        for _ in range(8):
            try:
                await client.get("/search")
            except CircuitOpenError:
                refused += 1
        assert refused > 0
        release = asyncio.Event()

        async def held() -> None:
            async with guard:
                await release.wait()

        task = asyncio.create_task(held())
        await asyncio.sleep(0.05)
        with pytest.raises(BulkheadFullError):
            async with guard:
                pass
        release.set()
        await task
        text = (await web.get("/metrics")).text
    for family in (
        "circuit_breaker_state",
        "circuit_breaker_transitions_total",
        "dependency_requests_total",
        "dependency_request_duration_seconds_bucket",
        "dependency_retries_total",
        "dependency_bulkhead_rejections_total",
        "http_pool_",
    ):
        assert family in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
