"""One process of the fleet benchmark: several coordinators sharing one event loop.

Each coordinator is a whole plugin instance (``include_plugin`` on its own
FastAPI app, lifespan started) with the Redis backend, so what Redis sees is
what that many replicas would send.  The harness talks to the process over
stdin/stdout, one JSON object a line:

* ``{"cmd": "state"}`` → every node's id, whether it leads, the last leader it
  observed (``new_leader``: node, epoch, when) and the last configuration
  version it applied (and when);
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

from fastapi import FastAPI

from bench.asgi_driver import started
from fastapi_sentient import include_plugin
from fastapi_sentient.cluster import ClusterEvent
from fastapi_sentient.settings import load_settings


class Node:
    """One coordinator and what it observed."""

    def __init__(self, node_id: str, env: dict[str, Any]) -> None:
        self.node_id = node_id
        self.app = FastAPI()
        self.sentient = include_plugin(self.app, load_settings(node_id=node_id, **env))
        self.leader: tuple[str, int, float] | None = None
        self.config: tuple[int, float] | None = None
        cluster = self.sentient.cluster
        cluster.on("new_leader")(self._new_leader)
        cluster.on_config_change(self._config)

    def _new_leader(self, event: ClusterEvent) -> None:
        self.leader = (event.node_id or "", event.epoch or 0, time.monotonic())

    def _config(self, version: int, _data: Any) -> None:
        self.config = (version, time.monotonic())

    def state(self) -> dict[str, Any]:
        return {
            "node": self.node_id,
            "is_leader": bool(self.sentient.cluster.is_leader),
            "leader": self.leader,
            "config": self.config,
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
            cluster = nodes[0].sentient.cluster
            times = []
            count = 0
            for _ in range(int(request.get("count", 20))):
                began = time.perf_counter()
                count = len(await cluster.members())
                times.append((time.perf_counter() - began) * 1e3)
            reply = {"ms": times, "members": count}
        elif cmd == "set_config":
            cluster = nodes[0].sentient.cluster
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
    settings = {
        "redis_url": redis_url,
        "redis_required": False,  # a busy host may miss one connect; the node keeps trying
        "system_checks": False,
        "handle_signals": False,
        "process_metrics": False,
        "gc_freeze": False,
        "shutdown_delay": 0.0,
        **env,
    }
    nodes = [Node(f"{prefix}-{index}", settings) for index in range(count)]
    stop = asyncio.Event()

    async def run(node: Node, ready: asyncio.Event) -> None:
        async with started(node.app, timeout=120):
            ready.set()
            await stop.wait()

    readiness = [asyncio.Event() for _ in nodes]
    tasks = [asyncio.create_task(run(n, r)) for n, r in zip(nodes, readiness, strict=True)]
    waits = [asyncio.create_task(r.wait()) for r in readiness]
    # nodes start concurrently, as replicas of a deployment do; a failed start ends the run
    done, _ = await asyncio.wait(
        [*tasks, asyncio.gather(*waits)], return_when=asyncio.FIRST_COMPLETED
    )
    for task in done:
        if task in tasks:
            task.result()
    print(json.dumps({"ready": len(nodes)}), flush=True)
    try:
        await _serve(nodes)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--settings", default="{}", help="JSON of extra settings")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.redis, args.prefix, args.nodes, json.loads(args.settings)))
