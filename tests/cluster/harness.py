"""Three real app processes, each reaching the coordination Redis through its own proxy.

Timestamps are CLOCK_MONOTONIC nanoseconds, which on one Linux host are the
same clock in every process: the test and the apps compare them directly.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import redis

from tests.cluster.proxy import TcpProxy
from tests.support.procs import AppProcess
from tests.support.redis_server import RedisServer

#: Test timings: lease 3 s, renew deadline 2 s, retry 0.5 s, call timeout 0.3 s.
LEASE, RENEW, RETRY, CALL = 3.0, 2.0, 0.5, 0.3
NODE_TTL, HEARTBEAT = 2.0, 0.5
#: The issue's failover bound: lease + 1.2 × retry + 1 s.
FAILOVER_BOUND = LEASE + 1.2 * RETRY + 1.0
CLUSTER = "fleet"
#: The fenced resource: the leader task's log and its guard (one hash tag).
LOG_KEY = "fence-test:{log}:writes"
FENCE_KEY = "fence-test:{log}:fence"


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def seconds(ns: int) -> float:
    return ns / 1e9


@dataclass
class Node:
    """One app process, its proxy and its event history."""

    name: str
    proxy: TcpProxy
    env: dict[str, str]
    history: Path
    proc: AppProcess | None = None
    port: int | None = None

    def start(self, wait: bool = True) -> Node:
        self.proc = AppProcess("tests.cluster.app:app", self.env, port=self.port)
        self.port = self.proc.port
        self.proc.start(wait_ready=wait, timeout=30)
        return self

    def get(self, path: str, timeout: float = 1.0) -> httpx2.Response:
        assert self.proc is not None
        return httpx2.get(self.proc.url + path, timeout=timeout)

    def state(self) -> dict[str, Any]:
        response = self.get("/state")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def members(self) -> list[dict[str, Any]] | None:
        response = self.get("/members", timeout=2.0)
        return response.json() if response.status_code == 200 else None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait_exit(10)

    def events(self) -> list[dict[str, Any]]:
        """Every event this node name recorded, across restarts (the JSONL history)."""
        if not self.history.exists():
            return []
        return [json.loads(line) for line in self.history.read_text().splitlines() if line]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


@dataclass
class Fleet:
    """The coordination Redis, the fenced resource Redis and three nodes."""

    coord: RedisServer
    resource: RedisServer
    nodes: list[Node] = field(default_factory=list)

    def by_name(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def coord_client(self) -> redis.Redis:
        return redis.Redis(port=self.coord.port, decode_responses=True, socket_timeout=2)

    def writes(self) -> list[dict[str, Any]]:
        """Accepted leader writes, in the order the resource applied them."""
        client = redis.Redis(port=self.resource.port, decode_responses=True, socket_timeout=2)
        try:
            return [json.loads(x) for x in client.lrange(LOG_KEY, 0, -1)]
        finally:
            client.close()

    def leaders(self, among: list[Node] | None = None) -> list[tuple[Node, dict[str, Any]]]:
        found = []
        for node in among or self.nodes:
            try:
                state = node.state()
            except httpx2.HTTPError:
                continue
            if state["is_leader"]:
                found.append((node, state))
        return found

    def single_leader(self, among: list[Node] | None = None) -> tuple[Node, dict[str, Any]] | None:
        found = self.leaders(among)
        return found[0] if len(found) == 1 else None


def assert_writes_sane(writes: list[dict[str, Any]]) -> None:
    """Epochs never go back, in apply order or by CLOCK_MONOTONIC; no epoch has two writers."""
    owners: dict[int, str] = {}
    for w in writes:
        assert owners.setdefault(w["epoch"], w["node"]) == w["node"], (
            f"epoch {w['epoch']} has two writers"
        )
    applied = [w["epoch"] for w in writes]
    assert applied == sorted(applied), "the resource applied an older epoch after a newer one"
    by_time = [w["epoch"] for w in sorted(writes, key=lambda w: w["t"])]
    assert by_time == sorted(by_time), "ordered by CLOCK_MONOTONIC, a write went back in epoch"


def assert_terms_unique(nodes: list[Node]) -> None:
    """Every epoch was elected once, by one node, and elections ordered in time increase."""
    elected = sorted(
        (e for node in nodes for e in node.events() if e["event"] == "elected"),
        key=lambda e: e["t"],
    )
    epochs = [e["epoch"] for e in elected]
    assert epochs, "nobody was ever elected"
    assert epochs == sorted(set(epochs)), f"an epoch repeated or went back: {epochs}"


def first_write_of(writes: list[dict[str, Any]], epoch_above: int) -> dict[str, Any] | None:
    return next((w for w in writes if w["epoch"] > epoch_above), None)
