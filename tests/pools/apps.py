"""The app the pool integration tests serve with uvicorn, configured by SENTIENT_* variables."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from fastapi_sentient import DbSession, RedisClient, include_plugin

app = FastAPI()
sentient = include_plugin(app)


@app.get("/db")
async def read_db(session: DbSession) -> dict[str, Any]:
    """One query through the request's session."""
    value = (await session.execute(text("SELECT 41 + 1"))).scalar_one()
    return {"value": value}


@app.get("/redis")
async def read_redis(redis: RedisClient) -> dict[str, Any]:
    """One command through the shared client."""
    return {"value": await redis.incr("hits")}
