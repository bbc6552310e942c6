"""fastapi_sentient with a slow route, for the drain measurement.

``GET /bench/slow`` holds the request for ``BENCH_SLOW_SECONDS``;
``GET /bench/started`` says how many slow requests have begun, so the harness
signals the server only once all of them are in flight.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from bench.apps.common import create_app
from fastapi_sentient import include_plugin

SLOW_SECONDS = float(os.environ.get("BENCH_SLOW_SECONDS", "1.0"))
STARTED = {"count": 0}

app = create_app()
sentient = include_plugin(app)


@app.get("/bench/slow")
async def slow() -> dict[str, Any]:
    STARTED["count"] += 1
    await asyncio.sleep(SLOW_SECONDS)
    return {"slept": SLOW_SECONDS}


@app.get("/bench/started")
async def started() -> dict[str, int]:
    return {"count": STARTED["count"]}
