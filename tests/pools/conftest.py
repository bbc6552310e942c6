"""Fixtures of the pool tests: the machine's PostgreSQL, throwaway servers, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from fastapi_sentient import Sentient, include_plugin
from fastapi_sentient.settings import SentientSettings
from tests.pools.postgres_server import PostgresServer
from tests.support.procs import port_open

#: The machine's PostgreSQL (trust auth), for tests that do not take it down.
MACHINE_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def machine_pg() -> str:
    """The URL of the machine's PostgreSQL, failing clearly when it is not running."""
    if not port_open(5432):
        pytest.fail("PostgreSQL is not listening on 127.0.0.1:5432")
    return MACHINE_PG


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file database of this test's own."""
    return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster the module's tests may stop and start."""
    server = PostgresServer().init().start()
    try:
        yield server
    finally:
        server.close()


def settings(**overrides: Any) -> SentientSettings:
    """Quiet test settings: no system checks, details always shown."""
    base: dict[str, Any] = {
        "system_checks": False,
        "health_details": "always",
        "handle_signals": False,
        "process_metrics": False,
    }
    return SentientSettings(**(base | overrides))


def make_app(**overrides: Any) -> tuple[FastAPI, Sentient]:
    """A FastAPI app with the plugin installed under :func:`settings`."""
    app = FastAPI()
    return app, include_plugin(app, settings(**overrides))


@pytest.fixture
async def running() -> AsyncIterator[list[Sentient]]:
    """Sentients whose pools a test started; closed afterwards."""
    started: list[Sentient] = []
    yield started
    for sentient in started:
        await sentient.pools.stop()
