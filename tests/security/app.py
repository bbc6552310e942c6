"""A service with a database route, for the secret-masking tests (run by uvicorn)."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy import text

from fastapi_sentient import DbSession, include_plugin

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
log = logging.getLogger("security_app")

app = FastAPI()
sentient = include_plugin(app)


@app.get("/db")
async def db(session: DbSession) -> dict[str, int]:
    """One round trip to the database (503 when it is down)."""
    value = (await session.execute(text("SELECT 1"))).scalar_one()
    return {"value": int(value)}


@app.get("/echo/{anything}")
async def echo(anything: str) -> dict[str, str]:
    """A route whose path and query the access log records."""
    log.info("echo route", extra={"settings": {"url": str(sentient.settings.database_url)}})
    return {"ok": "yes"}
