"""Acceptance on real processes: three uvicorn apps, a coordination Redis they reach through
black-holing proxies, and a separate "resource" Redis their leader tasks write to with fencing.

The tests run in file order against one fleet (starting it costs seconds), each
leaving it whole for the next: SIGSTOP, SIGKILL, partition, config, Redis down.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from tests.cluster.harness import (
    CALL,
    CLUSTER,
    FAILOVER_BOUND,
    HEARTBEAT,
    LEASE,
    NODE_TTL,
    RENEW,
    RETRY,
    Fleet,
    Node,
    assert_terms_unique,
    assert_writes_sane,
    first_write_of,
    now_ns,
    seconds,
)
from tests.cluster.proxy import TcpProxy
from tests.support.procs import free_port, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

PREFIX = f"sentient:{{{CLUSTER}}}:"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Three nodes; node-a's cluster check gates readiness, the others' does not."""
    tmp = tmp_path_factory.mktemp("fleet")
    coord = RedisServer().start()
    resource = RedisServer().start()
    client = redis_client(coord)
    client.set(PREFIX + "boot", "pre-created")  # skip the first-boot hold-off here
    client.close()
    fleet = Fleet(coord, resource)
    try:
        for name in ("node-a", "node-b", "node-c"):
            proxy = TcpProxy(coord.port).start()
            env = {
                "SENTIENT_NODE_ID": name,
                "SENTIENT_CLUSTER_NAME": CLUSTER,
                "SENTIENT_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0",
                "SENTIENT_REDIS_CRITICAL": "false",
                "SENTIENT_LEASE_TTL": str(LEASE),
                "SENTIENT_RENEW_DEADLINE": str(RENEW),
                "SENTIENT_RETRY_PERIOD": str(RETRY),
                "SENTIENT_CLUSTER_CALL_TIMEOUT": str(CALL),
                "SENTIENT_NODE_TTL": str(NODE_TTL),
                "SENTIENT_HEARTBEAT_INTERVAL": str(HEARTBEAT),
                "SENTIENT_CLUSTER_CRITICAL": "true" if name == "node-a" else "false",
                "SENTIENT_HEALTH_DETAILS": "always",
                "SENTIENT_SYSTEM_CHECKS": "false",
                "TEST_FENCE_URL": resource.url,
                "TEST_HISTORY": str(tmp / f"{name}.jsonl"),
            }
            node = Node(name, proxy, env, tmp / f"{name}.jsonl")
            node.port = free_port()
            fleet.nodes.append(node)
        for node in fleet.nodes:
            node.start(wait=False)
        for node in fleet.nodes:
            assert node.proc is not None
            node.proc.wait_ready(30)
        yield fleet
    finally:
        for node in fleet.nodes:
            node.stop()
            node.proxy.close()
        coord.close()
        resource.close()


def redis_client(server: RedisServer) -> Any:
    import redis

    return redis.Redis(port=server.port, decode_responses=True, socket_timeout=2)


def settled_leader(
    fleet: Fleet, among: list[Node] | None = None, timeout: float = 15
) -> tuple[Node, dict[str, Any]]:
    """Wait until exactly one node leads and every asked node names it."""
    nodes = among or fleet.nodes

    def settled() -> tuple[Node, dict[str, Any]] | None:
        found = fleet.single_leader(nodes)
        if found is None:
            return None
        views = [n.state()["leader"] for n in nodes]
        return found if all(v == found[0].name for v in views) else None

    result: tuple[Node, dict[str, Any]] = wait_until(settled, timeout, 0.05, "one settled leader")
    return result


def test_exactly_one_leader_once_settled(fleet: Fleet) -> None:
    """Once the cluster settles exactly one node reports is_leader and all agree on it."""
    leader, state = settled_leader(fleet)
    assert state["epoch"] >= 1
    for _ in range(10):  # and it stays that way
        assert [n.name for n, _ in fleet.leaders()] == [leader.name]
        time.sleep(RETRY / 2)
    members = wait_until(lambda: (m := fleet.nodes[0].members()) and len(m) == 3 and m, 5)
    assert sorted(m["nodeId"] for m in members) == ["node-a", "node-b", "node-c"]
    wait_until(lambda: fleet.writes(), 5, what="first leader write")
    assert_writes_sane(fleet.writes())


def test_paused_leader_is_replaced_and_fenced(fleet: Fleet) -> None:
    """A SIGSTOPped leader is replaced in time, then writes nothing stale and leaves the new lease alone."""
    old, old_state = settled_leader(fleet)
    old_epoch = old_state["epoch"]
    others = [n for n in fleet.nodes if n is not old]
    t_stop = now_ns()
    old.signal(signal.SIGSTOP)
    try:
        new, new_state = wait_until(
            lambda: fleet.single_leader(others), FAILOVER_BOUND + 5, 0.05, "a new leader"
        )
        assert new_state["epoch"] > old_epoch
        first = wait_until(lambda: first_write_of(fleet.writes(), old_epoch), 5)
        assert first["node"] == new.name
        assert seconds(first["t"] - t_stop) <= FAILOVER_BOUND
        coord = fleet.coord_client()
        lease_before = coord.hgetall(PREFIX + "leader")
        assert lease_before["node"] == new.name
    finally:
        old.signal(signal.SIGCONT)
    stopped = wait_until(
        lambda: [e for e in old.events() if e["event"] == "stopped_leading" and e["t"] > t_stop],
        10,
        what="the old leader's stopped_leading",
    )
    assert stopped[0]["epoch"] == old_epoch
    assert stopped[0]["reason"] in ("renew-deadline", "renew-failed", "preempted")
    wait_until(lambda: not old.state()["is_leader"], 5)
    time.sleep(2 * RETRY)  # give a (buggy) renew of the old token a chance to land
    lease_after = coord.hgetall(PREFIX + "leader")
    assert lease_after["tok"] == lease_before["tok"], "the old leader touched the new lease"
    assert coord.pttl(PREFIX + "leader") > 0
    coord.close()
    writes = fleet.writes()
    assert_writes_sane(writes)
    first_new = next(i for i, w in enumerate(writes) if w["epoch"] > old_epoch)
    assert all(w["epoch"] != old_epoch for w in writes[first_new:])
    settled_leader(fleet)


def test_killed_leader_fails_over_and_leaves_membership(fleet: Fleet) -> None:
    """A SIGKILLed leader fails over in time, leaves membership in time, and rejoins as a new incarnation."""
    victim, state = settled_leader(fleet)
    old_incarnation = state["incarnation"]
    others = [n for n in fleet.nodes if n is not victim]
    t_kill = now_ns()
    victim.kill()
    first = wait_until(lambda: first_write_of(fleet.writes(), state["epoch"]), FAILOVER_BOUND + 5)
    assert first["node"] != victim.name
    assert seconds(first["t"] - t_kill) <= FAILOVER_BOUND

    def gone() -> bool:
        members = others[0].members()
        return members is not None and victim.name not in [m["nodeId"] for m in members]

    wait_until(gone, NODE_TTL + HEARTBEAT + 5, 0.05, "the killed node to leave")
    assert seconds(now_ns() - t_kill) <= NODE_TTL + HEARTBEAT + 1.0

    victim.start()
    rejoined = wait_until(
        lambda: next((m for m in others[0].members() or [] if m["nodeId"] == victim.name), None),
        10,
    )
    assert rejoined["incarnation"] != old_incarnation
    assert rejoined["incarnation"] == victim.state()["incarnation"]
    settled_leader(fleet)
    assert_writes_sane(fleet.writes())
    _assert_membership_events_once(fleet)


def _assert_membership_events_once(fleet: Fleet) -> None:
    coord = fleet.coord_client()
    stream = coord.xrange(PREFIX + "events")
    coord.close()
    joined = Counter((f["node"], f["inc"]) for _id, f in stream if f["type"] == "node-joined")
    left = Counter((f["node"], f["inc"]) for _id, f in stream if f["type"] == "node-left")
    assert joined and max(joined.values()) == 1, joined
    assert not left or max(left.values()) == 1, left
    assert set(left) <= set(joined)
    for node in fleet.nodes:  # and each observing process emitted each at most once
        for kind in ("node_joined", "node_left"):
            seen = Counter(
                (e["pid"], e["nodeId"], e["incarnation"])
                for e in node.events()
                if e["event"] == kind
            )
            assert not seen or max(seen.values()) == 1, (node.name, kind, seen)


def test_partitioned_leader_steps_down_by_renew_deadline(fleet: Fleet) -> None:
    """A leader black-holed from Redis stops by its renew deadline; after healing all agree on one leader."""
    cut, state = settled_leader(fleet)
    others = [n for n in fleet.nodes if n is not cut]
    t_cut = now_ns()
    cut.proxy.blackhole(True)
    try:
        stopped = wait_until(
            lambda: [e for e in cut.events() if e["event"] == "stopped_leading" and e["t"] > t_cut],
            RENEW + 5,
            0.05,
            "the partitioned leader to step down",
        )
        assert seconds(stopped[0]["t"] - t_cut) <= RENEW + 0.5
        assert not cut.state()["is_leader"]
        wait_until(lambda: fleet.single_leader(others), FAILOVER_BOUND + 5, 0.05)
        first = wait_until(lambda: first_write_of(fleet.writes(), state["epoch"]), 5)
        assert seconds(first["t"] - t_cut) <= FAILOVER_BOUND
        own = [w for w in fleet.writes() if w["node"] == cut.name and w["epoch"] == state["epoch"]]
        assert own and max(w["t"] for w in own) < t_cut + RENEW * 1e9
    finally:
        cut.proxy.blackhole(False)
    wait_until(lambda: cut.state()["connected"], 10, what="the healed node to reconnect")
    settled_leader(fleet, timeout=10)
    assert_writes_sane(fleet.writes())
    assert_terms_unique(fleet.nodes)


def test_config_compare_and_set_and_convergence(fleet: Fleet) -> None:
    """Of ten concurrent CAS calls one wins; all nodes converge, one paused across three updates too."""
    version = fleet.nodes[0].state()["config_version"]

    def attempt(i: int) -> int:
        node = fleet.nodes[i % 3]
        assert node.proc is not None
        response = httpx2.post(
            node.proc.url + "/config", json={"data": {"writer": i}, "expected": version}, timeout=5
        )
        return response.status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(attempt, range(10)))
    assert sorted(codes) == [200] + [409] * 9

    leader, _ = settled_leader(fleet)
    paused = next(n for n in fleet.nodes if n is not leader)
    writer = next(n for n in fleet.nodes if n is not paused)
    paused.signal(signal.SIGSTOP)
    try:
        current = version + 1
        for i in range(3):
            assert writer.proc is not None
            response = httpx2.post(
                writer.proc.url + "/config",
                json={"data": {"update": i}, "expected": current},
                timeout=5,
            )
            assert response.status_code == 200, response.text
            current = response.json()["version"]
    finally:
        paused.signal(signal.SIGCONT)
    final = current
    for node in fleet.nodes:
        wait_until(lambda node=node: node.state()["config_version"] == final, 10)
        applied = node.state()["config_versions"]
        assert applied == sorted(set(applied)), (
            f"{node.name} applied a version twice or out of order"
        )
        assert applied[-1] == final
    assert version + 1 not in paused.state()["config_versions"][-1:]


def test_no_keyspace_scans(fleet: Fleet) -> None:
    """The coordinator never sends KEYS or SCAN."""
    coord = fleet.coord_client()
    stats = coord.info("commandstats")
    coord.close()
    assert "cmdstat_evalsha" in stats
    assert not [name for name in stats if name in ("cmdstat_keys", "cmdstat_scan")]


def test_redis_outage_keeps_serving_and_nodes_rejoin(fleet: Fleet) -> None:
    """Redis down: HTTP served, readiness per criticality, nobody leads; back: rejoin after the hold-off."""
    a, b, c = fleet.nodes
    _leader, state = settled_leader(fleet)
    epoch_before = state["epoch"]
    incarnations = {n.name: n.state()["incarnation"] for n in fleet.nodes}
    fleet.coord.kill()
    for node in fleet.nodes:
        assert node.get("/work").status_code == 200
    wait_until(lambda: a.get("/ready").status_code == 503, 10, what="critical node unready")
    for node in (b, c):
        wait_until(
            lambda node=node: (
                node.get("/health").json()["details"]["cluster"]["status"] == "unhealthy"
            ),
            10,
            what=f"{node.name}'s cluster check to fail",
        )
        assert node.get("/ready").status_code == 200  # not critical there: still serving
    wait_until(lambda: not fleet.leaders(), RENEW + 2, what="everyone to step down")
    for node in fleet.nodes:
        assert node.get("/work").status_code == 200

    t_restart = now_ns()
    fleet.coord.start()
    wait_until(lambda: a.get("/ready").status_code == 200, 15, what="critical node ready again")

    def rejoined() -> bool:
        members = a.members()
        return members is not None and sorted(m["nodeId"] for m in members) == [
            "node-a",
            "node-b",
            "node-c",
        ]

    wait_until(rejoined, 10, what="all three members back")
    for node in fleet.nodes:
        assert node.state()["incarnation"] != incarnations[node.name]
    _leader, new_state = settled_leader(fleet, timeout=LEASE + 10)
    assert new_state["epoch"] > epoch_before
    first = wait_until(lambda: first_write_of(fleet.writes(), epoch_before), 5)
    assert first["t"] >= t_restart + LEASE * 1e9, "elected before the restart hold-off ended"
    assert_writes_sane(fleet.writes())
    assert_terms_unique(fleet.nodes)
    _assert_membership_events_once(fleet)
