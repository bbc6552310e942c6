"""The app of the Sentinel failover suite: its leader task writes to PostgreSQL through ``fence_sql``.

Every write is one transaction: the guard row first, then a row in the data
table carrying ``(epoch, token, node, t)`` (``t`` = CLOCK_MONOTONIC ns, the
same clock in every process on one host).  The guard row lock serialises
fenced transactions, so the data table's ids give the order the fence
accepted them in.

No write can be recalled once started, like a call handed to a thread: each
runs on a shielded task that outlives the term.  While the file
``TEST_DELAY_FILE`` exists, the first write of a term waits
``TEST_FIRST_WRITE_DELAY`` seconds (the window in which the suite pauses the
process) at ``TEST_PAUSE_POINT``: ``before`` (validity checked, nothing sent
yet) or ``during`` (inside the transaction, after the guard row was claimed).
When ``<TEST_HISTORY>.pause`` exists, the leader stops itself (SIGSTOP) right
after checking ``leadership.valid`` and writes as soon as it is resumed.
Events go to the JSONL file ``TEST_HISTORY``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_sentient import include_plugin
from fastapi_sentient.cluster import (
    ClusterEvent,
    Leadership,
    StaleEpochError,
    fence_sql,
    fenced_epoch,
)

FENCE = os.environ["TEST_FENCE_TABLE"]
DATA = os.environ["TEST_DATA_TABLE"]
DELAY = float(os.environ.get("TEST_FIRST_WRITE_DELAY", "0"))
PAUSE_POINT = os.environ.get("TEST_PAUSE_POINT", "before")
DELAY_FILE = os.environ["TEST_DELAY_FILE"]
RESOURCE = "jobs"

app = FastAPI()
sentient = include_plugin(app)
cluster = sentient.cluster
engine = create_async_engine(os.environ["TEST_DATABASE_URL"], pool_size=4)
history = os.environ["TEST_HISTORY"]
pause_file = history + ".pause"
inflight: set[asyncio.Task[None]] = set()


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def record(kind: str, **fields: Any) -> None:
    entry = {"t": now_ns(), "node": cluster.node_id, "event": kind, **fields}
    with open(history, "a") as out:
        out.write(json.dumps(entry) + "\n")


@sentient.lifecycle.on_startup("fence-floor")
async def fence_floor() -> None:
    # the suite created the tables; a node starts above every epoch the fence has accepted
    async with engine.connect() as conn:
        cluster.observe_epoch(await fenced_epoch(conn, resource=RESOURCE, table=FENCE))


async def write(leadership: Leadership, pause: bool) -> None:
    """One fenced transaction; ``pause`` waits inside it, after the guard row was claimed."""
    try:
        async with engine.begin() as conn:
            await fence_sql(conn, leadership, resource=RESOURCE, table=FENCE)
            if pause:
                record("write_begun", epoch=leadership.epoch)
                await asyncio.sleep(DELAY)
            await conn.execute(
                text(f"INSERT INTO {DATA} (epoch, token, node, t) VALUES (:e, :tok, :n, :t)"),
                {
                    "e": leadership.epoch,
                    "tok": leadership.token,
                    "n": cluster.node_id,
                    "t": now_ns(),
                },
            )
    except StaleEpochError as exc:
        record("fence_rejected", epoch=leadership.epoch, current=exc.current)
        raise


async def first_write(leadership: Leadership) -> None:
    delay = os.path.exists(DELAY_FILE)
    if delay and PAUSE_POINT == "before":
        record("write_queued", epoch=leadership.epoch)
        await asyncio.sleep(DELAY)
    await write(leadership, pause=delay and PAUSE_POINT == "during")


async def unrecallable(write: Any) -> None:
    """Run ``write`` on a task of its own: cancelling the leader task does not stop it."""
    task = asyncio.get_running_loop().create_task(write)
    inflight.add(task)
    task.add_done_callback(inflight.discard)
    await asyncio.shield(task)


@cluster.leader_task
async def write_jobs(leadership: Leadership) -> None:
    record("term", epoch=leadership.epoch, token=leadership.token)
    leadership.ensure()
    try:
        await unrecallable(first_write(leadership))
        while True:
            await asyncio.sleep(0.1)
            leadership.ensure()
            if os.path.exists(pause_file):
                os.remove(pause_file)
                record("self_pause", epoch=leadership.epoch)
                os.kill(os.getpid(), signal.SIGSTOP)
            await unrecallable(write(leadership, pause=False))
    except StaleEpochError:
        return


def _listener(event: ClusterEvent) -> None:
    record(event.type, **event.to_dict())


for _kind in ("elected", "stopped_leading"):
    cluster.on(_kind)(_listener)


@app.get("/state")
async def state() -> dict[str, Any]:
    return {"node": cluster.node_id, "is_leader": cluster.is_leader, "epoch": cluster.epoch}
