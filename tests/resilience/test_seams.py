"""The resilience registry built from its parts alone (no plugin)."""

from __future__ import annotations

from typing import Any

from fastapi_sentient import SentientSettings
from fastapi_sentient._lifecycle import Lifecycle
from fastapi_sentient._redact import Redactor
from fastapi_sentient.health._registry import HealthRegistry
from fastapi_sentient.metrics._registry import Metrics
from fastapi_sentient.resilience import ResilienceRegistry


async def test_a_registry_from_its_parts_reads_the_redis_client_only_at_start() -> None:
    """Configured policies exist at once; the Redis client is asked for when it starts."""
    settings = SentientSettings(
        system_checks=False, resilience_policies={"search": {"failure_rate": 0.5}}
    )
    asked: list[str] = []

    def redis() -> Any:
        asked.append("redis")
        return None  # no Redis pool open: decisions stay in this process

    health = HealthRegistry()
    resilience = ResilienceRegistry(
        metrics=Metrics(process_collectors=False),
        health=health,
        lifecycle=Lifecycle(),
        redactor=Redactor(),
        settings=settings.resilience,
        cluster_name="test",
        node_id=lambda: "node-1",
        redis=redis,
    )
    assert set(resilience.policies) == {"search"}
    assert resilience.configured("search")
    assert not resilience.configured("other")
    assert asked == []
    await resilience.start()
    try:
        assert asked == ["redis"]
        assert resilience.shared is None
        assert "dependency:search" in health.checks
    finally:
        await resilience.stop()
    assert "dependency:search" not in health.checks
