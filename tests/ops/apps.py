"""A service with every part switched on (database, Redis, an LLM provider), for the ops tests.

Configured entirely by ``SENTIENT_*`` variables; serve it with
``uvicorn --factory tests.ops.apps:create_app``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from fastapi_sentient import DbSession, RedisClient, SentientDep, include_plugin
from tests.ops.fake_llm import MODEL


def create_app() -> FastAPI:
    """The app, reading its settings from the environment now."""
    app = FastAPI(title="ops test service")
    include_plugin(app)

    @app.get("/api/agents/{agent_id}/ask")
    async def ask(agent_id: str, sentient: SentientDep) -> dict[str, Any]:
        """One LLM call through the provider layer."""
        result = await sentient.llm.generate(
            "fake",
            model=MODEL,
            messages=[{"role": "user", "content": f"status of {agent_id}?"}],
            max_tokens=5,
        )
        return {"agent": agent_id, "answer": result.text}

    @app.get("/api/agents/{agent_id}/stream")
    async def stream(agent_id: str, sentient: SentientDep) -> dict[str, Any]:
        """One streamed LLM call, collected."""
        chunks = [
            chunk
            async for chunk in sentient.llm.stream(
                "fake",
                model=MODEL,
                messages=[{"role": "user", "content": f"stream for {agent_id}"}],
                max_tokens=5,
            )
        ]
        return {"agent": agent_id, "answer": "".join(chunks)}

    @app.get("/api/store")
    async def store(session: DbSession, redis: RedisClient) -> dict[str, Any]:
        """One query on each pool."""
        value = (await session.execute(text("SELECT 1"))).scalar_one()
        return {"db": value, "redis": await redis.incr("ops:hits")}

    return app
