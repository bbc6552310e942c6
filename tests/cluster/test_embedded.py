"""The embedded single-node coordinator: the whole cluster API without Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest

from fastapi_sentient.cluster import (
    ClusterEvent,
    ConfigConflictError,
    Leadership,
)
from fastapi_sentient.cluster._embedded import EmbeddedCoordinator
from tests.cluster.conftest import eventually, node, running


async def test_embedded_is_the_default_and_always_leads() -> None:
    """Without Redis the node is the only member and leader (epoch 1); its tasks stop at shutdown."""
    app, sentient = node(None, "solo", port=8000)
    cluster = sentient.cluster
    assert isinstance(cluster, EmbeddedCoordinator)
    assert not cluster.is_leader  # not before startup
    lifecycle: list[str] = []
    events: list[ClusterEvent] = []
    for kind in ("elected", "new_leader", "node_joined", "stopped_leading", "node_left"):
        cluster.on(kind)(events.append)

    @cluster.leader_task
    async def work(leadership: Leadership) -> None:
        lifecycle.append(f"start {leadership.epoch}")
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)
            lifecycle.append(f"stopped valid={leadership.valid}")

    async with running(app):
        assert cluster.is_leader
        assert cluster.epoch == 1
        await eventually(lambda: lifecycle, 2)
        members = await cluster.members()
        assert [(m.node_id, m.port) for m in members] == [("solo", 8000)]
        leader = await cluster.leader()
        assert leader is not None and leader.node_id == "solo"
        assert sentient.metrics.registry.get_sample_value("cluster_is_leader") == 1
    assert lifecycle == ["start 1", "stopped valid=False"]
    assert not cluster.is_leader
    assert [e.type for e in events] == [
        "node_joined",
        "elected",
        "new_leader",
        "stopped_leading",
        "node_left",
    ]


async def test_embedded_config_services_and_health() -> None:
    """Embedded compare-and-set, config callbacks, registry and cluster check behave as on Redis."""
    app, sentient = node(None, "solo", port=8000, advertise_host="10.1.1.1")
    cluster = sentient.cluster
    applied: list[tuple[int, Any]] = []
    cluster.on_config_change(lambda v, d: applied.append((v, d)))
    async with running(app):
        assert await cluster.get_config() == (0, None)
        assert await cluster.set_config({"flag": True}, 0) == 1
        with pytest.raises(ConfigConflictError) as caught:
            await cluster.set_config({"flag": False}, 0)
        assert caught.value.current == 1
        assert await cluster.get_config() == (1, {"flag": True})
        assert applied == [(1, {"flag": True})]

        service = await cluster.register_service("api", tags=["a"])
        assert service.health_url == "http://10.1.1.1:8000/health"
        assert await cluster.discover_services("api") == [service]
        assert await cluster.unregister_service(service.id)
        assert await cluster.discover_services("api") == []

        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://solo") as client:
            check = (await client.get("/health")).json()["details"]["cluster"]
        assert check["status"] == "healthy"
        assert check["details"]["backend"] == "embedded"
        assert check["details"]["totalNodes"] == 1
        assert check["details"]["leader"] == "solo"
