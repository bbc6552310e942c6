"""Membership, health broadcast, service registry and cluster health with in-process nodes."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from fastapi_sentient.cluster import ClusterEvent
from fastapi_sentient.health._result import CheckResult, HealthStatus
from tests.cluster.conftest import eventually, node, precreate_boot, running
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration


async def test_members_health_broadcast_and_graceful_leave(redis_proc: RedisServer) -> None:
    """Members carry records and health changes at once; a shut-down node leaves with one node_left."""
    precreate_boot(redis_proc.port)
    a_app, a = node(redis_proc.url, "a", cluster_roles=["api", "worker"], advertise_host="10.0.0.1")
    b_app, b = node(redis_proc.url, "b")
    sick = {"now": False}

    @b.health.check("dependency", critical=False, interval=60)
    async def dependency() -> CheckResult:
        return CheckResult(status=HealthStatus.UNHEALTHY if sick["now"] else HealthStatus.HEALTHY)

    seen: list[ClusterEvent] = []
    a.cluster.on("node_joined")(seen.append)
    a.cluster.on("node_left")(seen.append)
    async with running(a_app):
        async with running(b_app):
            records = {m.node_id: m for m in await a.cluster.members()}
            assert sorted(records) == ["a", "b"]
            assert records["a"].roles == ("api", "worker")
            assert records["a"].address == "10.0.0.1"
            assert records["a"].last_heartbeat is not None

            async def b_becomes(status: str) -> None:
                async with asyncio.timeout(5):
                    while {m.node_id: m.status for m in await a.cluster.members()}["b"] != status:
                        await asyncio.sleep(0.02)

            await b_becomes("healthy")
            sick["now"] = True
            await b.health.refresh("dependency")
            await b_becomes("unhealthy")
            b_incarnation = b.cluster.incarnation  # type: ignore[attr-defined]
        assert [m.node_id for m in await a.cluster.members()] == ["a"]
        await eventually(lambda: [e for e in seen if e.type == "node_left" and e.node_id == "b"], 5)
    joined = [(e.node_id, e.incarnation) for e in seen if e.type == "node_joined"]
    left = [(e.node_id, e.incarnation, e.reason) for e in seen if e.type == "node_left"]
    assert sorted(set(joined)) == sorted(joined)
    assert ("b", b_incarnation) in joined
    assert left == [("b", b_incarnation, "shutdown")]


async def test_cluster_health_in_health_details_and_metrics(redis_proc: RedisServer) -> None:
    """/health shows the cluster check with node counts and the leader; /metrics has cluster_*."""
    precreate_boot(redis_proc.port)
    apps = [node(redis_proc.url, name) for name in ("a", "b")]
    async with running(*(app for app, _ in apps)):
        a_app, a = apps[0]
        await eventually(lambda: any(s.cluster.is_leader for _, s in apps), 10, "a leader")
        leader = next(s.node_id for _, s in apps if s.cluster.is_leader)
        await eventually(lambda: a.cluster.cluster_health().healthy == 2, 5, "two healthy")
        await a.health.refresh("cluster")
        transport = httpx2.ASGITransport(app=a_app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://a") as client:
            report = (await client.get("/health")).json()
            metrics = (await client.get("/metrics")).text
        cluster = report["details"]["cluster"]
        assert cluster["status"] == "healthy"
        details = cluster["details"]
        assert details["totalNodes"] == 2
        assert details["healthyNodes"] == 2
        assert details["unhealthyNodes"] == details["degradedNodes"] == 0
        assert details["leader"] == leader
        assert details["connected"] is True
        assert 'cluster_nodes{status="healthy"} 2.0' in metrics
        assert "cluster_is_leader" in metrics
        assert "cluster_leader_changes_total" in metrics
        assert str(redis_proc.port) not in str(cluster)


async def test_services_are_discovered_only_while_their_node_lives(redis_proc: RedisServer) -> None:
    """register/discover/unregister, and a dead node's services vanish from discovery."""
    precreate_boot(redis_proc.port)
    a_app, a = node(redis_proc.url, "a", port=8001, advertise_host="10.0.0.1")
    b_app, b = node(redis_proc.url, "b", port=8002, advertise_host="10.0.0.2")
    async with running(a_app):
        async with running(b_app):
            registered = await a.cluster.register_service(
                "search", tags=["v2"], metadata={"zone": "eu"}, version="2.1"
            )
            await b.cluster.register_service("search")
            await b.cluster.register_service("billing", port=9000, health_url="http://b/hc")
            found = await b.cluster.discover_services("search")
            assert [s.id for s in found] == ["search@a", "search@b"]
            assert found[0] == registered
            assert (found[0].address, found[0].port) == ("10.0.0.1", 8001)
            assert found[0].health_url == "http://10.0.0.1:8001/health"
            assert (found[0].tags, found[0].metadata, found[0].version) == (
                ("v2",),
                {"zone": "eu"},
                "2.1",
            )
            billing = await a.cluster.discover_services("billing")
            assert [(s.port, s.health_url, s.node_id) for s in billing] == [
                (9000, "http://b/hc", "b")
            ]
            assert await a.cluster.unregister_service("search@b") is False  # not a's to remove
            assert await b.cluster.unregister_service("search@b") is True
            assert [s.id for s in await a.cluster.discover_services("search")] == ["search@a"]
        assert await a.cluster.discover_services("billing") == []


async def test_redis_down_at_startup_is_refused_when_required(redis_proc: RedisServer) -> None:
    """Unreachable Redis stops startup when required (password masked); otherwise the node joins later."""
    from fastapi_sentient.exceptions import StartupError

    url = f"redis://:s3cret-pass@127.0.0.1:{redis_proc.port}/0"
    redis_proc.kill()
    app, sentient = node(url, "a", redis_required=True)
    with pytest.raises(StartupError) as caught:
        await sentient.cluster.start()
    assert "s3cret-pass" not in str(caught.value)
    assert "cannot reach Redis" in str(caught.value)

    app, sentient = node(redis_proc.url, "a", redis_required=False)
    async with running(app):
        assert sentient.cluster.cluster_health().connected is False
        assert sentient.health.checks["cluster"].status == HealthStatus.UNHEALTHY
        redis_proc.start()
        precreate_boot(redis_proc.port)
        await eventually(lambda: sentient.cluster.cluster_health().connected, 10, "connected")
        await eventually(lambda: sentient.cluster.is_leader, 10, "leading")
        assert [m.node_id for m in await sentient.cluster.members()] == ["a"]
