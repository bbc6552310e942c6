"""Redis Cluster (3 primaries on loopback) and Sentinel, with in-process nodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from fastapi_sentient.cluster._keys import Keys
from tests.cluster.conftest import CLUSTER, eventually, node, running
from tests.support import redis_topologies as topologies
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[list[RedisServer]]:
    """Three primaries joined with ``redis-cli --cluster create`` (no replicas)."""
    with topologies.redis_cluster() as servers:
        yield servers


async def test_the_coordinator_works_on_redis_cluster(redis_cluster: list[RedisServer]) -> None:
    """On a 3-primary Redis Cluster everything works from one slot, without KEYS or SCAN."""
    url = "redis+cluster://" + ",".join(f"127.0.0.1:{s.port}" for s in redis_cluster[:2])
    apps = [node(url, name) for name in ("a", "b")]
    async with running(*(app for app, _ in apps)):
        clusters = [s.cluster for _, s in apps]
        await eventually(lambda: sum(c.is_leader for c in clusters) == 1, 15, "one leader")
        a, b = clusters
        assert sorted(m.node_id for m in await a.members()) == ["a", "b"]
        assert await a.set_config({"x": 1}, 0) == 1
        await eventually(lambda: b.config.version == 1, 5)
        await b.register_service("api", port=1)
        assert [s.node_id for s in await a.discover_services("api")] == ["b"]
        # a loaded machine may let the short lease lapse between checks: find the leader anew
        leaders: list[object] = []

        def one_leader() -> bool:
            leaders[:] = [c for c in clusters if c.is_leader]
            return len(leaders) == 1

        await eventually(one_leader, 15, "one leader")
        leader = next(c for c in clusters if c is leaders[0])
        follower = next(c for c in clusters if c is not leader)
        await leader.stop()  # graceful: release, then the other takes over
        await eventually(lambda: follower.is_leader, 5, "failover")

    keys = Keys.for_cluster(CLUSTER)
    probe = redis.Redis(port=redis_cluster[0].port, decode_responses=True)
    slot = probe.cluster("keyslot", keys.leader)
    for name in ("epoch", "boot", "members", "nodes", "services", "events", "config"):
        assert probe.cluster("keyslot", getattr(keys, name)) == slot
    probe.close()
    sizes = []
    for server in redis_cluster:
        client = redis.Redis(port=server.port, decode_responses=True)
        sizes.append(client.dbsize())
        stats = client.info("commandstats")
        assert "cmdstat_keys" not in stats
        assert "cmdstat_scan" not in stats
        client.close()
    assert sorted(sizes)[:2] == [0, 0]  # one primary carries the whole group
    assert max(sizes) >= 4  # epoch, boot, events, config outlive the members


@pytest.fixture
def sentinel() -> Iterator[tuple[RedisServer, int]]:
    """A primary watched by one Sentinel (quorum 1)."""
    with topologies.redis_sentinel() as pair:
        yield pair


async def test_the_coordinator_finds_the_primary_through_sentinel(
    sentinel: tuple[RedisServer, int],
) -> None:
    """A redis+sentinel:// URL resolves the primary: the node joins and leads."""
    primary, port = sentinel
    app, sentient = node(f"redis+sentinel://127.0.0.1:{port}/mymaster", "a")
    async with running(app):
        await eventually(lambda: sentient.cluster.is_leader, 10, "leadership via Sentinel")
        assert [m.node_id for m in await sentient.cluster.members()] == ["a"]
    client = redis.Redis(port=primary.port, decode_responses=True)
    assert client.exists(Keys.for_cluster(CLUSTER).epoch)
    client.close()
