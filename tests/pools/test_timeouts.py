"""Database timeouts on real PostgreSQL: statement timeout, a server that stops answering, idle ones."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator

import psutil
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fastapi_sentient import DbSession, Sentient
from fastapi_sentient.exceptions import DatabaseTimeoutError
from fastapi_sentient.pools._database import DatabasePool
from tests.pools.conftest import make_app
from tests.pools.postgres_server import PostgresServer
from tests.support.asgi import running as lifespan_running

pytestmark = pytest.mark.integration


def slow_app(url: str, **overrides: object) -> tuple[FastAPI, Sentient]:
    """An app with a route that sleeps in the database and one that answers at once."""
    app, sentient = make_app(database_url=url, db_pool_size=2, db_max_overflow=0, **overrides)

    @app.get("/sleep")
    async def sleep(session: DbSession, seconds: float) -> dict[str, bool]:
        await session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        return {"ok": True}

    @app.get("/one")
    async def one(session: DbSession) -> dict[str, int]:
        return {"value": (await session.execute(text("SELECT 1"))).scalar_one()}

    return app, sentient


async def test_statement_timeout_answers_504_and_frees_the_connection(machine_pg: str) -> None:
    """SELECT pg_sleep(60) is cancelled by the server at the statement timeout: 504, pool free again."""
    app, sentient = slow_app(machine_pg, db_statement_timeout=0.5)
    async with lifespan_running(app) as client:
        started = time.monotonic()
        answer = await client.get("/sleep", params={"seconds": 60}, timeout=30)
        elapsed = time.monotonic() - started
        stats = sentient.pools.get("db").stats()
        again = await client.get("/one")
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"] == "db_timeout"
    assert "statement timeout" in answer.json()["detail"]
    assert elapsed < 20  # did not hang for the minute the statement asked for
    assert stats.in_use == 0
    assert again.json() == {"value": 1}


@pytest.fixture
def stoppable_pg() -> Iterator[PostgresServer]:
    server = PostgresServer().init().start()
    try:
        yield server
    finally:
        for process in _postgres_processes(server):
            process.send_signal(signal.SIGCONT)
        server.close()


def _postgres_processes(server: PostgresServer) -> list[psutil.Process]:
    try:
        pid = int((server.data / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        return [postmaster, *postmaster.children(recursive=True)]
    except (OSError, psutil.Error):
        return []


async def test_a_database_that_stops_answering_mid_query_ends_the_request(
    stoppable_pg: PostgresServer,
) -> None:
    """Every PostgreSQL process SIGSTOPped mid-query: 504 at the driver's bound, connection freed."""
    app, sentient = slow_app(stoppable_pg.url(), db_statement_timeout=1.0, db_pool_pre_ping=False)
    async with lifespan_running(app) as client:
        assert (await client.get("/one")).json() == {"value": 1}
        request = asyncio.create_task(client.get("/sleep", params={"seconds": 0.5}, timeout=60))
        await asyncio.sleep(0.1)  # the statement is running on the server
        stopped = _postgres_processes(stoppable_pg)
        assert stopped
        for process in stopped:
            process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        answer = await request
        elapsed = time.monotonic() - started
        stats = sentient.pools.get("db").stats()
        for process in stopped:
            process.send_signal(signal.SIGCONT)
        again = await client.get("/one")
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"] == "db_timeout"
    assert "stopped answering" in answer.json()["detail"]
    assert elapsed < 20  # not a hang
    assert stats.in_use == 0
    assert again.json() == {"value": 1}


async def test_idle_in_transaction_sessions_are_ended_by_the_server(machine_pg: str) -> None:
    """A transaction left idle past the timeout is ended by PostgreSQL, not held open forever."""
    pool = DatabasePool(machine_pg, idle_in_transaction_timeout=0.3, idle_timeout=0)
    await pool.open()
    try:
        async with pool.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))  # a transaction is now open
            setting = (
                await connection.execute(text("SHOW idle_in_transaction_session_timeout"))
            ).scalar()
            await asyncio.sleep(1.0)
            with pytest.raises(DBAPIError):
                await connection.execute(text("SELECT 1"))
        assert setting == "300ms"
        await pool.ping()  # the pool hands out a working connection afterwards
    finally:
        await pool.close()


async def test_timeouts_are_session_settings_with_defaults(machine_pg: str) -> None:
    """The defaults reach the server as session settings: 30 s statement, 60 s idle in transaction."""
    pool = DatabasePool(machine_pg)
    await pool.open()
    try:
        async with pool.engine.connect() as connection:
            statement = (await connection.execute(text("SHOW statement_timeout"))).scalar()
            idle = (
                await connection.execute(text("SHOW idle_in_transaction_session_timeout"))
            ).scalar()
    finally:
        await pool.close()
    assert (statement, idle) == ("30s", "1min")


async def test_idle_pooled_connections_are_closed_keeping_the_warm_ones(machine_pg: str) -> None:
    """Three connections go idle; past the idle timeout two are closed and db_pool_warmup=1 stays."""
    pool = DatabasePool(machine_pg, pool_size=5, warmup=1, idle_timeout=0.3)
    await pool.open()
    try:

        async def hold() -> None:
            async with pool.engine.connect() as connection:
                await connection.execute(text("SELECT pg_sleep(0.1)"))

        await asyncio.gather(hold(), hold(), hold())
        assert pool.stats().idle == 3
        closed_before = pool.metrics.closed
        deadline = time.monotonic() + 15
        while pool.metrics.closed - closed_before < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert pool.stats().idle == 1
        assert pool.metrics.closed - closed_before == 2
        # the one kept is also too old by now: checkout replaces it instead of handing it out
        created_before = pool.metrics.created
        await asyncio.sleep(0.4)
        await pool.ping()
        assert pool.metrics.created == created_before + 1
    finally:
        await pool.close()


async def test_statement_timeout_outside_routes_raises_our_error(machine_pg: str) -> None:
    """Code using the pool directly gets DatabaseTimeoutError (a TimeoutError), not a driver error."""
    pool = DatabasePool(machine_pg, statement_timeout=0.3, idle_timeout=0)
    await pool.open()
    try:
        async with pool.engine.connect() as connection:
            with pytest.raises(DatabaseTimeoutError) as raised:
                await connection.execute(text("SELECT pg_sleep(10)"))
        assert isinstance(raised.value, TimeoutError)
        assert pool.stats().in_use == 0
    finally:
        await pool.close()
