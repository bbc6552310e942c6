"""The coordination scripts against a real redis-server: tokens, epochs, hold-off, membership."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fastapi_sentient.cluster import _scripts as scripts
from fastapi_sentient.cluster._connection import open_client, parse_redis_url
from fastapi_sentient.cluster._keys import Keys
from fastapi_sentient.cluster._store import Roster, Store
from tests.cluster.conftest import precreate_boot
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

KEYS = Keys.for_cluster("test")
#: Every script a store runs, by its SHA1 (what ``SCRIPT EXISTS`` is asked).
_SHAS = [
    hashlib.sha1(getattr(scripts, name).encode()).hexdigest()  # Redis names a script by its SHA1
    for name in dir(scripts)
    if name.isupper() and not name.startswith("_") and isinstance(getattr(scripts, name), str)
]


@pytest.fixture
async def store(redis_proc: RedisServer) -> AsyncIterator[Store]:
    """A store with a 1 s lease and node TTL on a fresh server (first-boot marker present)."""
    precreate_boot(redis_proc.port)
    client = open_client(parse_redis_url(redis_proc.url), timeout=0.5, connect_timeout=0.5)
    yield Store(client, KEYS, timeout=0.5, lease_ms=1000, node_ttl_ms=1000)
    await client.aclose()


async def stream(store: Store) -> list[dict[str, Any]]:
    return [fields for _id, fields in await store.client.xrange(KEYS.events)]


async def test_renew_and_release_with_a_foreign_token_change_nothing(store: Store) -> None:
    """Renew and release compare the token: a stale holder neither extends nor deletes the lease."""
    held = await store.acquire("tok-a", "a", "inc-a", 0)
    assert held.outcome == "acquired"
    await store.client.pexpire(KEYS.leader, 500)
    assert await store.renew("tok-b") is False
    assert 0 < await store.client.pttl(KEYS.leader) <= 500
    assert await store.release("tok-b") is False
    assert await store.client.hget(KEYS.leader, "tok") == "tok-a"
    assert await store.renew("tok-a") is True
    assert await store.client.pttl(KEYS.leader) > 500
    assert await store.release("tok-a") is True
    assert not await store.client.exists(KEYS.leader)


async def test_acquire_is_idempotent_per_token_and_others_see_the_holder(store: Store) -> None:
    """A retried acquire with the same token gets the same epoch; another token sees who holds it."""
    first = await store.acquire("tok-a", "a", "inc-a", 0)
    again = await store.acquire("tok-a", "a", "inc-a", 0)
    assert (first.outcome, again.outcome) == ("acquired", "acquired")
    assert again.epoch == first.epoch
    other = await store.acquire("tok-b", "b", "inc-b", 0)
    assert other.outcome == "held"
    assert (other.holder, other.holder_incarnation, other.epoch) == ("a", "inc-a", first.epoch)
    assert 0 < other.ttl_ms <= 1000


async def test_epochs_increase_and_never_fall_below_an_epoch_seen(store: Store) -> None:
    """Each acquisition issues a higher epoch; a lost counter restarts above min_epoch."""
    epochs = []
    for i in range(3):
        reply = await store.acquire(f"tok-{i}", "a", "inc", 0)
        epochs.append(reply.epoch)
        assert await store.release(f"tok-{i}")
    assert epochs == sorted(set(epochs))
    await store.client.delete(KEYS.epoch)  # the counter vanished (failover, restart)
    reply = await store.acquire("tok-x", "a", "inc", epochs[-1])
    assert reply.epoch == epochs[-1] + 1


async def test_a_wiped_dataset_holds_off_elections_for_one_lease(store: Store) -> None:
    """A missing boot marker starts a hold-off of one lease, during which nobody is elected."""
    await store.client.flushdb()
    first = await store.acquire("tok-a", "a", "inc-a", 0)
    assert first.outcome == "holdoff"
    assert 0 < first.ttl_ms <= 1000
    assert (await store.acquire("tok-b", "b", "inc-b", 0)).outcome == "holdoff"
    assert [e["type"] for e in await stream(store)] == ["store-reset"]
    await store.client.delete(KEYS.holdoff)  # as if the lease time had passed
    assert (await store.acquire("tok-b", "b", "inc-b", 0)).outcome == "acquired"


async def test_heartbeat_reap_and_leave_write_one_event_per_incarnation(store: Store) -> None:
    """Joins and departures are logged once per incarnation; an evicted node needs a new incarnation."""
    assert (await store.heartbeat("a", "1", '{"node":"a","inc":"1"}', must_exist=False))[
        0
    ] == "joined"
    assert (await store.heartbeat("a", "1", '{"node":"a","inc":"1"}', must_exist=True))[0] == "ok"
    await store.put_service("api@a", '{"id":"api@a","name":"api","node":"a","inc":"1"}')
    assert len(await store.discover("api")) == 1
    await store.client.zadd(KEYS.members, {"a": 0})  # last heartbeat long ago
    assert await store.discover("api") == []  # dead at read time, before any reaping
    assert await store.reap() == ["a"]
    assert await store.reap() == []
    assert not await store.client.hexists(KEYS.services, "api@a")
    assert (await store.heartbeat("a", "1", '{"node":"a","inc":"1"}', must_exist=True))[
        0
    ] == "evicted"
    assert (await store.heartbeat("a", "2", '{"node":"a","inc":"2"}', must_exist=False))[
        0
    ] == "joined"
    # a restart under the same node id replaces the old incarnation without a reap
    assert (await store.heartbeat("a", "3", '{"node":"a","inc":"3"}', must_exist=False))[
        0
    ] == "joined"
    assert await store.leave("a", "2") is False  # not the current incarnation
    assert await store.leave("a", "3") is True
    events = [(e["type"], e["inc"], e.get("reason")) for e in await stream(store)]
    assert events == [
        ("node-joined", "1", None),
        ("node-left", "1", "timeout"),
        ("node-joined", "2", None),
        ("node-left", "2", "replaced"),
        ("node-joined", "3", None),
        ("node-left", "3", "shutdown"),
    ]


async def test_member_list_reports_liveness_by_server_time(store: Store) -> None:
    """LIST returns every stored member with its heartbeat and the server's time to judge it."""
    await store.heartbeat("a", "1", '{"node":"a","inc":"1"}', must_exist=False)
    await store.heartbeat("b", "1", '{"node":"b","inc":"1"}', must_exist=False)
    await store.client.zadd(KEYS.members, {"b": 1})
    now, entries = await store.list_members()
    by_node = {node: beat for node, beat, _doc in entries}
    assert now - by_node["a"] < 1000
    assert now - by_node["b"] > 1000


async def test_roster_records_joins_documents_and_departures_only(store: Store) -> None:
    """The roster version ignores plain heartbeats; changes name what moved; stale follows the TTL."""
    assert await store.roster() == Roster(0, 0, frozenset())
    await store.heartbeat("a", "1", '{"node":"a","inc":"1"}', must_exist=False)
    joined = (await store.roster()).version
    assert joined > 0
    for _ in range(3):
        await store.heartbeat("a", "1", '{"node":"a","inc":"1"}', must_exist=True)
    assert (await store.roster()).version == joined  # nothing changed but the heartbeat time
    await store.heartbeat("a", "1", '{"node":"a","inc":"1","status":"ok"}', must_exist=True)
    await store.heartbeat("b", "1", '{"node":"b","inc":"1"}', must_exist=False)
    changes = await store.changes(joined)
    assert [(node, doc) for node, _v, doc, _beat in changes] == [
        ("a", '{"node":"a","inc":"1","status":"ok"}'),
        ("b", '{"node":"b","inc":"1"}'),
    ]
    assert all(beat is not None for *_rest, beat in changes)
    before = (await store.roster()).version
    await store.client.zadd(KEYS.members, {"b": 1})  # b's last heartbeat long ago
    assert (await store.roster()).stale == {"b"}
    assert await store.reap() == ["b"]
    after = await store.roster()
    assert after.stale == frozenset()
    assert [(n, d, h) for n, _v, d, h in await store.changes(before)] == [("b", "", None)]
    assert await store.leave("a", "1") is True
    assert [n for n, *_ in await store.changes(after.version)] == ["a"]
    _now, version, entries = await store.snapshot()
    assert (version, entries) == ((await store.roster()).version, [])


async def test_departed_nodes_are_forgotten_behind_a_floor(store: Store) -> None:
    """Past a thousand departed nodes the oldest are pruned and the floor moves past them."""
    pipe = store.client.pipeline(transaction=False)
    for index in range(1100):
        pipe.zadd(KEYS.changes, {f"gone-{index}": index + 1})
    pipe.hset(KEYS.roster, "v", 1100)
    await pipe.execute()
    await store.heartbeat("a", "1", '{"node":"a","inc":"1"}', must_exist=False)
    assert await store.leave("a", "1") is True  # a departure prunes
    roster = await store.roster()
    assert roster.floor == 100
    assert await store.client.zcard(KEYS.changes) == 1001


async def test_membership_follows_changes_instead_of_rereading_the_list(store: Store) -> None:
    """sync() reads the whole list once; afterwards only what changed, in O(log N) when idle."""
    from fastapi_sentient.cluster._events import EventBus
    from fastapi_sentient.cluster._membership import Membership
    from fastapi_sentient.cluster._model import NodeRecord

    calls = {"list": 0, "changes": 0}

    class CountingStore(Store):
        async def snapshot(self) -> tuple[float, int, list[tuple[str, float, str]]]:
            calls["list"] += 1
            return await super().snapshot()

        async def changes(self, since: int) -> list[tuple[str, int, str, float | None]]:
            calls["changes"] += 1
            return await super().changes(since)

    counting = CountingStore(store.client, KEYS, timeout=0.5, lease_ms=1000, node_ttl_ms=1000)
    events = EventBus()
    seen: list[tuple[str, str | None]] = []
    events.add("node_joined", lambda e: seen.append(("joined", e.node_id)))
    events.add("node_left", lambda e: seen.append(("left", e.node_id)))
    membership = Membership(
        counting,
        events,
        lambda inc: NodeRecord(node_id="a", incarnation=inc, address="h", port=1, version="1"),
        node_ttl=1.0,
    )
    await membership.heartbeat()
    assert [m.node_id for m in await membership.sync()] == ["a"]
    for _ in range(5):
        await membership.heartbeat()
        await membership.sync()
    assert calls == {"list": 1, "changes": 0}
    await counting.heartbeat("b", "1", '{"node":"b","inc":"1"}', must_exist=False)
    assert [m.node_id for m in await membership.sync()] == ["a", "b"]
    await counting.client.zadd(KEYS.members, {"b": 1})  # b stops beating
    assert [m.node_id for m in await membership.sync()] == ["a"]
    await counting.reap()
    await membership.sync()
    assert calls == {"list": 1, "changes": 2}
    await events.aclose()
    assert seen == [("joined", "a"), ("joined", "b"), ("left", "b")]
    await counting.client.delete(KEYS.roster, KEYS.changes, KEYS.members, KEYS.nodes)  # wiped
    assert await membership.sync() == []
    assert calls["list"] == 2


async def test_config_compare_and_set_bumps_the_version_once(store: Store) -> None:
    """SET_CONFIG applies only on the expected version and logs and publishes the new one."""
    assert await store.set_config(0, '{"a":1}') == (True, 1)
    assert await store.set_config(0, '{"a":2}') == (False, 1)
    assert await store.get_config() == ("established", 1, '{"a":1}')
    position, generation, version, document = await store.watch_start()
    assert (generation, version, document) == ("established", 1, '{"a":1}')
    assert await store.set_config(1, '{"a":3}') == (True, 2)
    polled = await store.poll(position)
    assert (polled.generation, polled.version) == ("established", 2)
    assert [e.fields for e in polled.entries] == [{"type": "config-changed", "version": "2"}]


async def test_a_heartbeat_asked_to_poll_reads_what_a_poll_reads(store: Store) -> None:
    """One round trip: the heartbeat returns the same entries and version as POLL from there."""
    await store.set_config(0, '{"a":1}')
    position, _generation, _version, _document = await store.watch_start()
    assert (await store.heartbeat("a", "1", "{}", must_exist=False)).polled is None
    await store.set_config(1, '{"a":2}')
    beat = await store.heartbeat("b", "1", "{}", must_exist=False, poll_after=position)
    alone = await store.poll(position)
    assert beat.outcome == "joined"
    assert beat.polled == alone
    assert [e.fields.get("type") for e in alone.entries] == [
        "node-joined",
        "config-changed",
        "node-joined",
    ]
    assert alone.version == 2
    later = await store.heartbeat("b", "1", "{}", must_exist=True, poll_after=alone.entries[-1].id)
    assert later.polled is not None
    assert (later.polled.entries, later.polled.version) == ([], 2)


async def test_prepare_loads_only_the_scripts_the_server_lacks(
    store: Store, redis_proc: RedisServer
) -> None:
    """The first node loads every script; each later one asks once and loads none."""
    import redis

    admin = redis.Redis(port=redis_proc.port)
    admin.script_flush()
    admin.config_resetstat()

    def calls(command: str) -> int:
        stats = admin.info("commandstats").get(f"cmdstat_{command}")
        return int(stats["calls"]) if stats else 0

    await store.prepare(5)
    scripts = calls("script|load")
    assert (calls("script|exists"), scripts) == (1, len(_SHAS))
    client = open_client(parse_redis_url(redis_proc.url), timeout=0.5, connect_timeout=0.5)
    later = Store(client, KEYS, timeout=0.5, lease_ms=1000, node_ttl_ms=1000)
    try:
        await later.prepare(5)
        assert (calls("script|exists"), calls("script|load")) == (2, scripts)
        beat = await later.heartbeat("b", "inc-b", "{}", must_exist=False)
        assert beat.outcome == "joined"
        assert calls("script|load") == scripts  # the heartbeat ran from the loaded script
        assert all(admin.script_exists(*_SHAS))
    finally:
        await client.aclose()
        admin.close()


async def test_a_heartbeats_read_overtaken_by_a_poll_delivers_nothing_twice(store: Store) -> None:
    """The watch loop polled after the heartbeat read: only entries past it are delivered."""
    from fastapi_sentient.cluster._config_state import AppliedConfig
    from fastapi_sentient.cluster._config_watch import ConfigWatcher
    from fastapi_sentient.cluster._events import EventBus

    seen: list[str] = []
    applied = AppliedConfig(EventBus())
    watcher = ConfigWatcher(
        store, applied, on_entry=lambda entry: seen.append(entry.id), on_reset=lambda: None
    )
    await watcher.start()
    start = watcher.position
    assert start is not None
    await store.set_config(0, '{"a":1}')
    beat = await store.heartbeat("a", "1", "{}", must_exist=False, poll_after=start)
    await watcher.poll()  # the doorbell's poll gets there first
    assert applied.version == 1
    delivered = list(seen)
    await store.set_config(1, '{"a":2}')
    stale = beat.polled
    assert stale is not None
    assert [e.id for e in stale.entries] == delivered
    await watcher.deliver(stale)
    assert seen == delivered  # nothing twice
    fresh = await store.heartbeat("a", "1", "{}", must_exist=True, poll_after=watcher.position)
    assert fresh.polled is not None
    await watcher.deliver(fresh.polled)
    assert seen == delivered + [e.id for e in fresh.polled.entries]
    assert len(seen) == len(set(seen)) == len(delivered) + 1
    assert (applied.version, applied.data) == (2, {"a": 2})
