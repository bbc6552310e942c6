"""The app the multi-process cluster tests run under uvicorn (configured by env vars).

Its leader task appends ``{epoch, t, node}`` records (``t`` = CLOCK_MONOTONIC
ns, comparable across processes on one host) to a Redis list on a separate
"resource" Redis, through :class:`RedisFence`, every 50 ms.  Events go to a
JSONL history file (which survives SIGKILL) and to ``/state``.

Env: ``TEST_FENCE_URL`` (the resource Redis), ``TEST_HISTORY`` (a file path).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from fastapi_sentient import include_plugin
from fastapi_sentient.cluster import (
    ClusterEvent,
    ClusterUnavailableError,
    ConfigConflictError,
    Leadership,
    RedisFence,
    StaleEpochError,
)
from tests.cluster.harness import FENCE_KEY, LOG_KEY

APPEND = "redis.call('RPUSH', KEYS[1], ARGV[1]) return 1"

app = FastAPI()
sentient = include_plugin(app)
cluster = sentient.cluster
fence_client = aioredis.Redis.from_url(os.environ["TEST_FENCE_URL"], decode_responses=True)
append = RedisFence(fence_client, FENCE_KEY).script(APPEND)
state: dict[str, Any] = {"rejected": 0, "accepted": 0, "config_versions": [], "events": []}
history_path = os.environ.get("TEST_HISTORY")


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def record(kind: str, **fields: Any) -> None:
    entry = {"t": now_ns(), "node": cluster.node_id, "pid": os.getpid(), "event": kind, **fields}
    state["events"].append(entry)
    if history_path:
        with open(history_path, "a") as out:
            out.write(json.dumps(entry) + "\n")


@cluster.leader_task
async def write_log(leadership: Leadership) -> None:
    while True:
        if not leadership.valid:
            return
        t = now_ns()
        entry = json.dumps({"epoch": leadership.epoch, "t": t, "node": cluster.node_id})
        try:
            await append(leadership, keys=[LOG_KEY], args=[entry])
            state["accepted"] += 1
        except StaleEpochError as exc:
            state["rejected"] += 1
            record("fence_rejected", epoch=leadership.epoch, current=exc.current)
            return
        await asyncio.sleep(0.05)


def _listener(event: ClusterEvent) -> None:
    record(event.type, **event.to_dict())


for _kind in ("elected", "stopped_leading", "new_leader", "node_joined", "node_left"):
    cluster.on(_kind)(_listener)


@cluster.on_config_change
def _config_changed(version: int, data: Any) -> None:
    state["config_versions"].append(version)
    record("config_applied", version=version)


@app.get("/state")
async def get_state() -> dict[str, Any]:
    view = cluster.cluster_health()
    return {
        "node": cluster.node_id,
        "incarnation": getattr(cluster, "incarnation", None),
        "is_leader": cluster.is_leader,
        "epoch": cluster.epoch,
        "leader": view.leader,
        "connected": view.connected,
        "config_version": cluster.config.version,
        "config_versions": state["config_versions"],
        "accepted": state["accepted"],
        "rejected": state["rejected"],
        "events": state["events"],
    }


@app.get("/members")
async def get_members() -> Any:
    try:
        return [m.to_dict() for m in await cluster.members()]
    except ClusterUnavailableError as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)


@app.post("/config")
async def post_config(body: dict[str, Any]) -> Any:
    try:
        version = await cluster.set_config(body["data"], body["expected"])
    except ConfigConflictError as exc:
        return JSONResponse({"current": exc.current}, status_code=409)
    return {"version": version}


@app.get("/work")
async def work() -> dict[str, str]:
    return {"served_by": cluster.node_id}
