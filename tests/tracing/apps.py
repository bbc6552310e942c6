"""Test apps for tracing: a route under nested prefixed routers, with DB, Redis and LLM calls.

``app`` (for uvicorn subprocesses) is configured by ``SENTIENT_*`` and ``OTEL_*``
variables and has no backends; :func:`build_app` makes the in-process variants.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text

from fastapi_sentient import SentientDep, SentientSettings, include_plugin
from fastapi_sentient._dependencies import DbSession, RedisClient

logger = logging.getLogger("tests.tracing.app")


def build_app(settings: SentientSettings | None = None, *, backends: bool = True) -> FastAPI:
    """``/api/v1/items/{item_id}`` and friends; with ``backends`` the item route uses DB and LLM."""
    app = FastAPI()
    items = APIRouter(prefix="/items")

    if backends:

        @items.get("/{item_id}")
        async def get_item(
            item_id: int, request: Request, session: DbSession, sentient: SentientDep
        ) -> dict[str, Any]:
            value = (
                await session.execute(text("SELECT CAST(:v AS integer)"), {"v": item_id})
            ).scalar_one()
            models = await sentient.pools.http("openai").get("models")
            logger.info("served item %s", item_id, extra={"item": item_id})
            return {
                "id": value,
                "models": models.status_code,
                "request_id": getattr(request.state, "request_id", None),
            }

        @items.get("/{item_id}/cached")
        async def cached(item_id: int, redis: RedisClient) -> dict[str, Any]:
            await redis.set(f"item:{item_id}", "1")
            return {"cached": await redis.get(f"item:{item_id}")}

    else:

        @items.get("/{item_id}")
        async def get_plain(item_id: int) -> dict[str, int]:
            logger.info("served item %s", item_id)
            return {"id": item_id}

    @items.get("/{item_id}/boom")
    async def boom(item_id: int) -> None:
        msg = f"item {item_id} exploded"
        raise RuntimeError(msg)

    v1 = APIRouter(prefix="/v1")
    v1.include_router(items)
    app.include_router(v1, prefix="/api")

    tools = FastAPI()  # a FastAPI sub-app: it must not add a server span of its own

    @tools.get("/{tool_id}")
    async def tool(tool_id: str) -> dict[str, str]:
        return {"tool": tool_id}

    app.mount("/tools", tools)
    include_plugin(app, settings)
    return app


def __getattr__(name: str) -> Any:
    # Built on first access, so importing this module for build_app() reads no env.
    if name == "app":
        globals()["app"] = application = build_app(backends=False)
        return application
    raise AttributeError(name)
