"""The pools' registry built from its parts alone (no plugin), and tracing pool by pool."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import generate_latest

from fastapi_sentient._lifecycle import Lifecycle
from fastapi_sentient._redact import Redactor
from fastapi_sentient.health._registry import HealthRegistry
from fastapi_sentient.metrics._registry import Metrics
from fastapi_sentient.pools import Instrumentable, PoolRegistry
from tests.pools.fakes import ServerDown, ToyPool


class TracedToyPool(ToyPool):
    """A pool of the user's own that traces itself, or says it cannot, or fails to."""

    def __init__(self, name: str, *, result: bool | None) -> None:
        super().__init__(name)
        self.result = result
        self.providers: list[TracerProvider] = []

    def instrument(self, tracer_provider: TracerProvider) -> bool:
        self.providers.append(tracer_provider)
        if self.result is None:
            msg = "tracing is not possible here"
            raise ServerDown(msg)
        return self.result


def registry(metrics: Metrics, health: HealthRegistry) -> PoolRegistry:
    return PoolRegistry(
        metrics=metrics,
        health=health,
        lifecycle=Lifecycle(),
        redactor=Redactor(),
        open_timeout=5.0,
        close_timeout=5.0,
        check_timeout=1.0,
        check_fail_after=1,
    )


async def test_a_registry_from_its_parts_opens_checks_and_exports_its_pools() -> None:
    """Metrics, health, lifecycle and redactor are all the registry needs."""
    metrics = Metrics(process_collectors=False)
    health = HealthRegistry()
    pools = registry(metrics, health)
    pools.register(ToyPool("cache", kind="cache"))
    await pools.start()
    try:
        assert "cache" in health.checks
        assert 'cache_pool_size{pool="cache"} 1.0' in generate_latest(metrics.registry).decode()
    finally:
        await pools.stop()
    assert "cache" not in health.checks


def test_instrument_traces_the_pools_that_trace_themselves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pools without instrument() are skipped; False and a failure leave a pool off the list."""
    pools = registry(Metrics(process_collectors=False), HealthRegistry())
    plain = pools.register(ToyPool("plain"))
    traced = pools.register(TracedToyPool("traced", result=True))
    unable = pools.register(TracedToyPool("unable", result=False))
    broken = pools.register(TracedToyPool("broken", result=None))
    provider = TracerProvider()
    with caplog.at_level("WARNING", logger="fastapi_sentient.pools"):
        assert pools.instrument(provider) == ["traced"]
    assert not isinstance(plain, Instrumentable)
    assert traced.providers == unable.providers == broken.providers == [provider]
    assert "tracing pool broken failed" in caplog.text
