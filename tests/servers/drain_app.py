"""The app every server under test runs: slow and fast routes, marks in a shared file.

Marks (one short line per event, appended) let the test see across worker
processes which requests started, finished and which shutdown tasks ran.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from fastapi import FastAPI

from fastapi_sentient import include_plugin

app = FastAPI()
sentient = include_plugin(app)
MARKS = Path(os.environ["DRAIN_TEST_MARKS"])


def mark(event: str) -> None:
    with MARKS.open("a") as marks:
        marks.write(f"{event} {os.getpid()}\n")


@app.get("/slow")
async def slow(seconds: float) -> dict[str, bool]:
    mark("start")
    await asyncio.sleep(seconds)
    mark("end")
    return {"ok": True}


@app.get("/fast")
async def fast() -> dict[str, bool]:
    return {"ok": True}


@app.get("/whoami")
async def whoami() -> dict[str, object]:
    return {"pid": os.getpid(), "node": sentient.node_id, "port": sentient.serving_port}


@sentient.lifecycle.on_shutdown("flush")
async def flush() -> None:
    mark("shutdown-task")
