"""The example service: its own lifespan, a custom check, startup/shutdown tasks,
a slow route and an SSE route that end cleanly when the process drains, and an
agent tool call under resilience policies (``example_app/tools.py``).

Run it with ``make run``; it needs no services and no keys (SQLite, single node).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import text

from example_app.chat import router as chat_router
from example_app.tools import tools_router
from fastapi_sentient import CheckResult, DbSession, HealthStatus, SentientDep, include_plugin

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("example_app")

STATE: dict[str, Any] = {"warm": False, "events": []}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """The service's own lifespan: fastapi_sentient's resources are already up here."""
    log.info("example lifespan: starting")
    STATE["events"].append("lifespan-start")
    if sentient.settings.database_url:  # make run: SQLite; unset in some tests
        async with sentient.pools.db.engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE IF NOT EXISTS notes (agent TEXT NOT NULL, body TEXT NOT NULL)")
            )
    yield {"greeting": "hello"}
    STATE["events"].append("lifespan-exit")
    log.info("example lifespan: exited")


app = FastAPI(title="example agent service", lifespan=lifespan)
sentient = include_plugin(app)


@sentient.health.check("model_cache", critical=True, timeout=1.0, interval=5.0)
async def model_cache() -> CheckResult | None:
    """Ready only once the (pretend) model cache is warm."""
    if not STATE["warm"]:
        return CheckResult(status=HealthStatus.UNHEALTHY, error="cache cold")
    return None


@sentient.lifecycle.on_startup("warm-cache", priority=100, timeout=10)
async def warm_cache() -> None:
    """Warm the cache before the first request is admitted."""
    await asyncio.sleep(0.05)
    STATE["warm"] = True


@sentient.lifecycle.on_shutdown("flush-events", priority=100, timeout=5)
async def flush_events() -> None:
    """Flush buffered events before the process exits."""
    STATE["events"].append("flushed")
    log.info("example shutdown task: flushed events")


api = APIRouter(prefix="/api")
agents = APIRouter(prefix="/agents")


@agents.get("/{agent_id}/runs/{run_id}")
async def get_run(agent_id: str, run_id: int) -> dict[str, Any]:
    """A route under two nested prefixed routers."""
    return {"agent": agent_id, "run": run_id}


class Note(BaseModel):
    """A note an agent keeps between runs."""

    body: str


@agents.post("/{agent_id}/notes", status_code=201)
async def add_note(agent_id: str, note: Note, session: DbSession) -> dict[str, str]:
    """Committed when the route returns; rolled back if it raises."""
    await session.execute(
        text("INSERT INTO notes (agent, body) VALUES (:agent, :body)"),
        {"agent": agent_id, "body": note.body},
    )
    return {"agent": agent_id, "body": note.body}


@agents.get("/{agent_id}/notes")
async def list_notes(agent_id: str, session: DbSession) -> list[str]:
    """Read through the request-scoped session."""
    rows = await session.execute(
        text("SELECT body FROM notes WHERE agent = :agent"), {"agent": agent_id}
    )
    return list(rows.scalars())


@agents.get("/{agent_id}/slow")
async def slow(agent_id: str, seconds: float = 2.5) -> dict[str, Any]:
    """A long agent step; it finishes even when draining starts mid-way."""
    await asyncio.sleep(min(seconds, 60.0))
    return {"agent": agent_id, "slept": seconds}


@agents.get("/{agent_id}/events")
async def events(agent_id: str, sentient: SentientDep, count: int = 50) -> StreamingResponse:
    """An SSE stream that ends with ``event: shutdown`` as soon as draining begins."""
    draining = sentient.lifecycle.draining

    async def stream() -> AsyncIterator[str]:
        for index in range(count):
            if draining.is_set():
                yield "event: shutdown\ndata: draining\n\n"
                return
            yield f"data: {agent_id} step {index}\n\n"
            try:
                await asyncio.wait_for(draining.wait(), timeout=0.2)
            except TimeoutError:
                continue
        yield "event: done\ndata: complete\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


api.include_router(agents)
api.include_router(tools_router(sentient))  # GET /api/agents/{id}/tools/search: guarded tools
app.include_router(api)
app.include_router(chat_router)  # POST /chat: SSE from the configured LLM providers


@app.get("/")
async def root(sentient: SentientDep) -> dict[str, Any]:
    """Who is serving, and whether it leads the cluster."""
    return {
        "service": sentient.settings.service_name,
        "node": sentient.node_id,
        "leader": sentient.cluster.is_leader,
    }
