"""One process of the fleet benchmark: many bare coordinators sharing one event loop.

Each node is a :class:`RedisCoordinator` built from what it takes and nothing
more (its settings, its own metrics, health registry and lifecycle, a node
id) — no FastAPI app, no health loops, no HTTP — so a few hundred fit in one
process and what Redis sees is what that many replicas would send.  Each
node has what a replica has: its own command connection pool and its own
Pub/Sub subscription (so Redis fans every doorbell out to every node).  The
nodes do not share one pool: redis-py's asyncio pool hands out connections
under one lock, held across a connection's readiness check, and hundreds of
nodes queued behind it miss their call timeouts with the CPU idle.

The harness talks to the process over stdin/stdout, one JSON object a line:

* ``{"cmd": "state"}`` → every node's id, whether it leads, the last leader it
  observed (``new_leader``: node, epoch, when), the last configuration
  version it applied (and when) and how many live members it lists;
* ``{"cmd": "members", "count": n}`` → latency of ``members()`` on one node;
* ``{"cmd": "set_config", "data": …}`` → compare-and-set through one node;
* ``{"cmd": "stop"}`` → shut every node down cleanly.

Times are ``time.monotonic()`` (CLOCK_MONOTONIC), the same clock in every
process on the host, so the harness compares them with its own.

Run as ``python -m bench.fleet_worker --redis URL --prefix p0 --nodes 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

from fastapi_sentient._lifecycle import Lifecycle
from fastapi_sentient._redact import Redactor
from fastapi_sentient.cluster import ClusterEvent
from fastapi_sentient.cluster._connection import ClusterConnection
from fastapi_sentient.cluster._redis_backend import RedisCoordinator
from fastapi_sentient.health._registry import HealthRegistry
from fastapi_sentient.metrics._registry import Metrics
from fastapi_sentient.settings import SentientSettings, load_settings

START_BATCH = 25


class Node:
    """One coordinator and what it observed."""

    def __init__(self, node_id: str, settings: SentientSettings) -> None:
        self.node_id = node_id
        assert settings.redis_url is not None
        connection = ClusterConnection.from_url(
            settings.redis_url, call_timeout=settings.cluster_call_timeout
        )
        self.cluster = RedisCoordinator(
            connection=connection,
            required=False,  # a busy host may miss one connect; the node keeps trying
            cluster=settings.cluster,
            identity=settings.identity,
            metrics=Metrics(process_collectors=False),
            health=HealthRegistry(),
            lifecycle=Lifecycle(),
            redactor=Redactor(),
            node_id=lambda: node_id,
            port=lambda: None,
        )
        self.leader: tuple[str, int, float] | None = None
        self.config: tuple[int, float] | None = None
        self.cluster.on("new_leader", self._new_leader)
        self.cluster.on_config_change(self._config)

    def _new_leader(self, event: ClusterEvent) -> None:
        self.leader = (event.node_id or "", event.epoch or 0, time.monotonic())

    def _config(self, version: int, _data: Any) -> None:
        self.config = (version, time.monotonic())

    def state(self) -> dict[str, Any]:
        return {
            "node": self.node_id,
            "is_leader": bool(self.cluster.is_leader),
            "leader": self.leader,
            "config": self.config,
            "members": self.cluster.cluster_health().total,
        }


async def _serve(nodes: list[Node]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        request = json.loads(line)
        cmd = request["cmd"]
        reply: dict[str, Any]
        if cmd == "state":
            reply = {"nodes": [node.state() for node in nodes], "at": time.monotonic()}
        elif cmd == "members":
            cluster = nodes[0].cluster
            times = []
            count = 0
            for _ in range(int(request.get("count", 20))):
                began = time.perf_counter()
                count = len(await cluster.members())
                times.append((time.perf_counter() - began) * 1e3)
            reply = {"ms": times, "members": count}
        elif cmd == "set_config":
            cluster = nodes[0].cluster
            version, _ = await cluster.get_config()
            began = time.monotonic()
            new = await cluster.set_config(request["data"], version)
            reply = {"version": new, "at": began}
        elif cmd == "stop":
            print(json.dumps({"stopping": True}), flush=True)
            return
        else:
            reply = {"error": f"unknown command {cmd!r}"}
        print(json.dumps(reply), flush=True)


async def main(redis_url: str, prefix: str, count: int, env: dict[str, Any]) -> None:
    settings = load_settings(redis_url=redis_url, **env)
    nodes = [Node(f"{prefix}-{index}", settings) for index in range(count)]
    # nodes start a batch at a time, as a rolling deployment's surge does: a process
    # connecting hundreds at once would queue their connects past the call timeout
    for first in range(0, len(nodes), START_BATCH):
        await asyncio.gather(*(node.cluster.start() for node in nodes[first : first + START_BATCH]))
    print(json.dumps({"ready": len(nodes)}), flush=True)
    try:
        await _serve(nodes)
    finally:
        await asyncio.gather(*(node.cluster.stop() for node in nodes), return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--settings", default="{}", help="JSON of extra settings")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(main(args.redis, args.prefix, args.nodes, json.loads(args.settings)))
