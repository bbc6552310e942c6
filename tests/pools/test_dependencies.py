"""DbSession, DbEngine, RedisClient and http_client in real routes; failures answered as 503."""

from __future__ import annotations

from typing import Annotated, Any

import httpx2
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import text

from fastapi_sentient import DbEngine, DbSession, RedisClient, http_client
from fastapi_sentient.exceptions import PoolNotFoundError
from tests.pools.conftest import make_app
from tests.pools.fakes import ToyPool
from tests.support.procs import free_port
from tests.support.redis_server import RedisServer


def notes_app(database_url: str, **overrides: Any) -> TestClient:
    """An app with a notes table and routes that write through DbSession."""
    app, _ = make_app(database_url=database_url, **overrides)

    @app.post("/setup")
    async def setup(engine: DbEngine) -> dict[str, bool]:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE IF NOT EXISTS notes (body TEXT)"))
        return {"ok": True}

    @app.post("/notes/{body}")
    async def add(body: str, session: DbSession, fail: bool = False) -> dict[str, str]:
        await session.execute(text("INSERT INTO notes VALUES (:b)"), {"b": body})
        if fail:
            raise HTTPException(409, "conflict after the insert")
        return {"added": body}

    @app.get("/notes")
    async def notes(session: DbSession) -> list[str]:
        return list((await session.execute(text("SELECT body FROM notes"))).scalars())

    @app.get("/broken")
    async def broken(session: DbSession) -> None:
        await session.execute(text("SELECT * FROM no_such_table"))

    return TestClient(app)


def test_db_session_commits_on_return_and_rolls_back_on_error(sqlite_url: str) -> None:
    """A route's writes are committed when it returns and rolled back when it raises."""
    with notes_app(sqlite_url) as client:
        client.post("/setup")
        assert client.post("/notes/kept").json() == {"added": "kept"}
        assert client.post("/notes/dropped", params={"fail": True}).status_code == 409
        assert client.get("/notes").json() == ["kept"]
        assert client.get("/health").json()["details"]["db"]["details"]["in_use"] == 0


def test_a_bad_query_stays_a_500_not_a_503(sqlite_url: str) -> None:
    """Only unavailability becomes 503; a programming error is still a server error."""
    with notes_app(sqlite_url) as client:
        client_no_raise = TestClient(client.app, raise_server_exceptions=False)
        assert client_no_raise.get("/broken").status_code == 500


def test_pool_exhaustion_is_answered_503_after_the_timeout(sqlite_url: str) -> None:
    """With every connection held, a DbSession route answers 503 pool_exhausted, counted."""
    with notes_app(sqlite_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.2) as client:
        client.post("/setup")
        sentient = client.app.state.sentient  # type: ignore[attr-defined]
        holder = client.portal.call(sentient.pools.db.engine.connect().start)  # type: ignore[union-attr]
        try:
            response = client.get("/notes")
        finally:
            client.portal.call(holder.close)  # type: ignore[union-attr]
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"] == "pool_exhausted"
        # the body says nothing internal; the sizing hint is in the log line
        assert response.json()["detail"] == "no free connection to a dependency; retry later"
        assert "db_pool_acquire_timeouts_total" in client.get("/metrics").text
        assert client.get("/notes").status_code == 200


def test_database_down_is_answered_503_without_the_password() -> None:
    """A route on an unreachable (optional) database gets 503, its password masked."""
    url = f"postgresql+asyncpg://app:pa55word@127.0.0.1:{free_port()}/db"
    with notes_app(url, db_required=False) as client:
        response = client.get("/notes")
        assert response.status_code == 503
        assert response.json()["error"] == "db_unavailable"
        assert response.json()["detail"] == "the database is unavailable; retry later"
        assert "pa55word" not in response.text
        assert "127.0.0.1" not in response.text
        assert client.get("/ready").status_code == 503
        assert client.get("/live").status_code == 200


def test_redis_client_route_and_redis_down(redis_proc: RedisServer) -> None:
    """RedisClient serves a route; with the server gone the route answers 503."""
    app, _ = make_app(redis_url=redis_proc.url)

    @app.get("/count")
    async def count(redis: RedisClient) -> dict[str, int]:
        return {"n": await redis.incr("n")}

    with TestClient(app) as client:
        assert client.get("/count").json() == {"n": 1}
        assert client.get("/count").json() == {"n": 2}
        redis_proc.kill()
        response = client.get("/count")
        assert response.status_code == 503
        assert response.json()["error"] == "redis_unavailable"


def test_http_client_hands_out_the_named_providers_client() -> None:
    """http_client(name) resolves to the client of the HTTP pool registered under name."""
    app, sentient = make_app()
    pool = ToyPool("openai", kind="http")
    pool.client = httpx2.AsyncClient()  # type: ignore[attr-defined]
    sentient.pools.register(pool)

    @app.get("/same")
    async def same(client: Annotated[httpx2.AsyncClient, http_client("openai")]) -> dict[str, bool]:
        return {"same": client is pool.client}  # type: ignore[attr-defined]

    with TestClient(app) as client:
        assert client.get("/same").json() == {"same": True}


def test_db_session_without_a_database_names_the_variable() -> None:
    """A DbSession route on an app with no database fails naming SENTIENT_DATABASE_URL."""
    app, _ = make_app()

    @app.get("/rows")
    async def rows(session: DbSession) -> None:
        """Never reached."""

    with TestClient(app) as client, pytest.raises(PoolNotFoundError, match="SENTIENT_DATABASE_URL"):
        client.get("/rows")
