"""Terms that survive a failover: replica acknowledgements, promotion detection, epoch floors."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_sentient.cluster import (
    ClusterUnavailableError,
    Leadership,
    RedisFence,
    StaleEpochError,
    create_fence_table,
    fence_sql,
    fenced_epoch,
)
from fastapi_sentient.cluster._connection import open_client, parse_redis_url
from fastapi_sentient.cluster._keys import Keys
from fastapi_sentient.cluster._store import Store
from tests.cluster.conftest import eventually, node, precreate_boot, running
from tests.support import redis_topologies as topologies
from tests.support.procs import wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

KEYS = Keys.for_cluster("test")
GAP = 2**32
LEASE_MS = 3000


@pytest.fixture
def pair() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A primary and its replica, in sync."""
    primary = RedisServer().start()
    replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(primary.port)]).start()
    client = redis.Redis(port=primary.port, decode_responses=True)
    try:
        wait_until(
            lambda: client.info("replication").get("slave0", {}).get("state") == "online",
            10,
            0.02,
            "the replica online",
        )
        yield primary, replica
    finally:
        client.close()
        replica.close()
        primary.close()


@pytest.fixture
async def stores() -> AsyncIterator[list[Store]]:
    """Stores opened by the test; their clients are closed afterwards."""
    opened: list[Store] = []
    yield opened
    for store in opened:
        await store.client.aclose()


def open_store(server: RedisServer, opened: list[Store], min_replicas: int | None = None) -> Store:
    """Generous time limits: a busy machine must not turn a slow acknowledgement into a miss."""
    client = open_client(parse_redis_url(server.url), timeout=2, connect_timeout=2)
    store = Store(
        client,
        KEYS,
        timeout=2,
        lease_ms=LEASE_MS,
        node_ttl_ms=1000,
        min_replicas=min_replicas,
        replica_timeout=1,
    )
    opened.append(store)
    return store


def in_sync(primary: RedisServer, replica: RedisServer) -> bool:
    a = redis.Redis(port=primary.port, decode_responses=True)
    b = redis.Redis(port=replica.port, decode_responses=True)
    try:
        offset = a.info("replication")["master_repl_offset"]
        return bool(b.info("replication")["slave_repl_offset"] >= offset)
    finally:
        a.close()
        b.close()


async def test_a_promoted_replica_holds_off_and_issues_epochs_above_the_lost_ones(
    pair: tuple[RedisServer, RedisServer], stores: list[Store]
) -> None:
    """The replica kept the boot marker, but its replication id betrays the promotion."""
    primary, replica = pair
    precreate_boot(primary.port)
    old = open_store(primary, stores, min_replicas=0)
    first = await old.acquire("tok-1", "a", "inc", 0)
    assert (first.outcome, first.epoch) == ("acquired", 1)
    wait_until(lambda: in_sync(primary, replica), 10, 0.02, "the replica in sync")
    replica.pause()  # from here on the primary writes alone
    cut = redis.Redis(port=primary.port, decode_responses=True)
    cut.client_kill_filter(_type="replica")
    cut.close()
    assert await old.release("tok-1")
    lost = [(await old.acquire(f"tok-{i}", "a", "inc", 0)).epoch for i in (2, 3)]
    assert lost == [2, 2]  # the second attempt finds tok-2 holding: nothing new issued
    assert await old.release("tok-2")
    assert (await old.acquire("tok-3", "a", "inc", 0)).epoch == 3
    primary.kill()
    replica.resume()
    client = redis.Redis(port=replica.port, decode_responses=True)
    client.replicaof("NO", "ONE")
    assert client.get(KEYS.epoch) == "1"  # the lagging copy
    new = open_store(replica, stores)
    reply = await new.acquire("tok-4", "b", "inc", 0)
    assert reply.outcome == "holdoff"
    assert reply.generation != first.generation
    assert 0 < reply.ttl_ms <= LEASE_MS
    assert not client.exists(KEYS.leader)  # tok-1's replicated lease is void
    counter = int(client.get(KEYS.epoch) or 0)
    assert counter >= 1 + GAP
    events = [f for _id, f in client.xrange(KEYS.events) if f["type"] == "store-reset"]
    assert events[-1]["reason"] == "promoted"
    client.close()
    term = await eventually_acquired(new, "tok-4")
    assert term > counter > 3  # above anything the lost primary issued


async def eventually_acquired(store: Store, token: str) -> int:
    async with asyncio.timeout(LEASE_MS / 1000 + 5):
        while (reply := await store.acquire(token, "b", "inc", 0)).outcome != "acquired":
            await asyncio.sleep(0.05)
    return reply.epoch


async def test_a_wiped_store_restarts_epochs_from_the_server_clock(
    redis_proc: RedisServer, stores: list[Store]
) -> None:
    """Nothing of the old counter survives a wipe; the server clock (ms) is above it."""
    store = open_store(redis_proc, stores)
    reply = await store.acquire("tok-1", "a", "inc", 0)
    assert reply.outcome == "holdoff"  # a new dataset: the first boot
    client = redis.Redis(port=redis_proc.port, decode_responses=True)
    seconds_now = int(client.time()[0])
    counter = int(client.get(KEYS.epoch) or 0)
    client.close()
    assert counter // 1000 in (seconds_now - 1, seconds_now)


async def test_lease_writes_count_only_once_replicas_acknowledge_them(
    pair: tuple[RedisServer, RedisServer], stores: list[Store]
) -> None:
    """Without an acknowledgement the grant is not a term and a renewal fails; retried, it counts."""
    primary, replica = pair
    precreate_boot(primary.port)
    store = open_store(primary, stores, min_replicas=1)
    held = await store.acquire("tok-a", "a", "inc", 0)
    assert held.outcome == "acquired"
    assert await store.renew("tok-a") is True
    replica.pause()
    with pytest.raises(ClusterUnavailableError, match="acknowledged by 0 of 1 replica"):
        await store.renew("tok-a")
    assert await store.release("tok-a")
    pending = await store.acquire("tok-b", "b", "inc", 0)
    assert pending.outcome == "unconfirmed"
    replica.resume()
    again = await store.acquire("tok-b", "b", "inc", 0)
    assert (again.outcome, again.epoch) == ("acquired", pending.epoch)


async def test_the_default_requires_an_acknowledgement_once_a_replica_was_seen(
    pair: tuple[RedisServer, RedisServer], redis_proc: RedisServer, stores: list[Store]
) -> None:
    """Auto mode: 0 on a server without replicas; 1 from the first sight of one, for good."""
    primary, replica = pair
    alone = open_store(redis_proc, stores)
    await alone.prepare(2)
    assert alone.required_replicas == 0
    watched = open_store(primary, stores)
    await watched.prepare(2)
    assert watched.required_replicas == 1
    replica.kill()
    await watched.replication_id()
    assert watched.required_replicas == 1


async def test_an_epoch_seen_superseded_is_never_granted_again(
    redis_proc: RedisServer, stores: list[Store]
) -> None:
    """A retried acquire whose epoch a fence has since rejected gets a new, higher one."""
    precreate_boot(redis_proc.port)
    store = open_store(redis_proc, stores)
    first = await store.acquire("tok-a", "a", "inc", 0)
    assert (await store.acquire("tok-a", "a", "inc", 0)).epoch == first.epoch
    floor = first.epoch + 5
    reissued = await store.acquire("tok-a", "a", "inc", floor)
    assert (reissued.outcome, reissued.epoch) == ("acquired", floor + 1)


async def test_fences_report_their_epoch_and_late_rejections_raise_the_floor(
    redis_proc: RedisServer, tmp_path: Path
) -> None:
    """A write queued in an ended term is rejected; the node then campaigns above the fence."""
    precreate_boot(redis_proc.port)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/fence.db")
    async with engine.begin() as conn:
        await create_fence_table(conn)
        assert await fenced_epoch(conn) == 0
    client = aioredis.Redis(port=redis_proc.port, decode_responses=True)
    fence = RedisFence(client, "app:{jobs}:fence")
    assert await fence.epoch() == 0
    app, sentient = node(redis_proc.url, "solo")
    cluster = sentient.cluster
    async with running(app):
        first: Leadership = await eventually(lambda: cluster.leadership, 10, "a term")
        async with engine.begin() as conn:
            await fence_sql(conn, first)
            assert await fenced_epoch(conn) == first.epoch
        await client.delete(KEYS.leader)  # the lease vanishes: the term ends at its renewal
        second: Leadership = await eventually(
            lambda: (lead := cluster.leadership) is not None and lead is not first and lead,
            10,
            "a second term",
        )
        assert not first.valid
        async with engine.begin() as conn:
            await fence_sql(conn, Leadership(first.epoch + 50, secrets.token_hex(16), "other"))
        with pytest.raises(StaleEpochError):  # a write the first term had queued
            async with engine.begin() as conn:
                await fence_sql(conn, first)
        assert cluster.leadership is second  # an old term's rejection ends only that term
        await client.delete(KEYS.leader)
        third: Leadership = await eventually(
            lambda: (lead := cluster.leadership) is not None and lead is not second and lead,
            10,
            "a third term",
        )
        assert third.epoch == first.epoch + 51
    await client.hset(fence.key, mapping={"epoch": 7, "holder": "x"})
    assert await fence.epoch() == 7
    await client.aclose()
    await engine.dispose()


async def test_observe_epoch_puts_the_next_term_above_a_fence(
    redis_proc: RedisServer,
) -> None:
    """A node told the fence's epoch at startup is first elected above it."""
    precreate_boot(redis_proc.port)
    app, sentient = node(redis_proc.url, "solo")
    sentient.cluster.observe_epoch(99)
    async with running(app):
        epoch = await eventually(lambda: sentient.cluster.epoch, 10, "a term")
    assert epoch == 100


async def test_on_redis_cluster_terms_wait_for_the_slot_primarys_replica(
    stores: list[Store],
) -> None:
    """INFO and WAIT reach the primary of the group's slot; Cluster's replica list sets the default."""
    with topologies.redis_cluster(primaries=3, replicas=1) as servers:
        url = "redis+cluster://" + ",".join(f"127.0.0.1:{s.port}" for s in servers[:3])
        client = open_client(parse_redis_url(url), timeout=2, connect_timeout=2)
        store = Store(
            client, KEYS, timeout=2, lease_ms=LEASE_MS, node_ttl_ms=1000, replica_timeout=1
        )
        stores.append(store)
        await store.prepare(10)
        assert store.required_replicas == 1
        await client.set(KEYS.boot, "established")
        roles = [redis.Redis(port=s.port, decode_responses=True) for s in servers]
        for r in roles:
            wait_until(
                lambda r=r: (
                    r.info("replication")["role"] == "slave"
                    or r.info("replication").get("slave0", {}).get("state") == "online"
                ),
                20,
                0.05,
                "every primary's replica online",
            )
        held = await store.acquire("tok-a", "a", "inc", 0)
        assert held.outcome == "acquired"
        assert await store.renew("tok-a") is True
        idle = [
            s
            for s, r in zip(servers, roles, strict=True)
            if r.info("replication")["role"] == "slave"
        ]
        for r in roles:
            r.close()
        for server in idle:
            server.pause()
        try:
            with pytest.raises(ClusterUnavailableError, match="acknowledged by 0 of 1 replica"):
                await store.renew("tok-a")
        finally:
            for server in idle:
                server.resume()
