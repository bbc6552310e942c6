"""DatabasePool against the machine's PostgreSQL and SQLite files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_sentient.exceptions import ConfigurationError, NotStartedError, PoolTimeoutError
from fastapi_sentient.pools import PoolResizeError
from fastapi_sentient.pools._database import DatabasePool, DatabasePoolTimeoutError, async_url
from tests.pools.conftest import make_app


@contextlib.asynccontextmanager
async def checked_out(pool: DatabasePool, count: int) -> AsyncIterator[list[AsyncConnection]]:
    """Hold ``count`` connections of ``pool`` for the duration of the block."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(pool.engine.connect()) for _ in range(count)]


async def test_exhausted_pool_times_out_clearly_and_counts_it(machine_pg: str) -> None:
    """pool_size=2, max_overflow=1: 3 in use, overflow 1; a 4th acquire times out, counted."""
    _, sentient = make_app(
        database_url=machine_pg, db_pool_size=2, db_max_overflow=1, db_pool_timeout=0.5
    )
    await sentient.pools.start()
    pool = sentient.pools.db
    try:
        async with checked_out(pool, 3):
            stats = pool.stats()
            assert (stats.in_use, stats.idle, stats.overflow, stats.max_size) == (3, 0, 1, 3)
            with pytest.raises(DatabasePoolTimeoutError, match="exhausted") as caught:
                await pool.ping()
            assert isinstance(caught.value, PoolTimeoutError)
            assert "SENTIENT_DB_POOL_SIZE" in str(caught.value)
        registry = sentient.metrics.registry
        assert registry.get_sample_value("db_pool_acquire_timeouts_total", {"pool": "db"}) == 1
        assert pool.stats().acquire_timeouts == 1
        assert pool.stats().in_use == 0
    finally:
        await sentient.pools.stop()


async def test_waiting_callers_are_counted_while_the_pool_is_full(sqlite_url: str) -> None:
    """A caller blocked on a full pool shows as waiting, and gets the connection once freed."""
    pool = DatabasePool(sqlite_url, pool_size=1, max_overflow=0, pool_timeout=10)
    await pool.open()
    try:
        async with checked_out(pool, 1) as held:
            waiter = asyncio.create_task(pool.ping())
            while pool.stats().waiting != 1:
                await asyncio.sleep(0.005)
            await held[0].close()
            await asyncio.wait_for(waiter, 10)
        assert pool.stats().waiting == 0
    finally:
        await pool.close()


async def test_warmup_opens_connections_at_startup(machine_pg: str) -> None:
    """open() creates the configured number of warm connections, left idle."""
    pool = DatabasePool(machine_pg, pool_size=3, warmup=3)
    await pool.open()
    try:
        stats = pool.stats()
        assert (stats.created, stats.idle, stats.in_use) == (3, 3, 0)
    finally:
        await pool.close()
    assert pool.stats().closed == 3


async def test_drain_closes_idle_connections_only(sqlite_url: str) -> None:
    """drain() closes idle connections, keeps checked-out ones, and stats follow."""
    pool = DatabasePool(sqlite_url, pool_size=3, max_overflow=0)
    await pool.open()
    try:
        async with checked_out(pool, 3):
            pass
        async with checked_out(pool, 1):
            assert pool.stats().idle == 2
            assert await pool.drain() == 2
            stats = pool.stats()
            assert (stats.idle, stats.in_use, stats.closed) == (0, 1, 2)
        assert pool.stats().idle == 1
        async with checked_out(pool, 3):  # the drained slots can be used again
            assert pool.stats().in_use == 3
    finally:
        await pool.close()


async def test_resize_changes_the_cap(sqlite_url: str) -> None:
    """resize() grows or shrinks the base size; stats and the real limit follow."""
    pool = DatabasePool(sqlite_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    await pool.open()
    try:
        await pool.resize(3)
        assert pool.stats().max_size == 3
        async with checked_out(pool, 3):
            assert pool.stats().in_use == 3
        await pool.resize(1)
        async with checked_out(pool, 1):
            with pytest.raises(DatabasePoolTimeoutError):
                await pool.ping()
        with pytest.raises(PoolResizeError):
            await pool.resize(0)
    finally:
        await pool.close()


async def test_recycle_drops_connections_and_the_pool_reconnects(machine_pg: str) -> None:
    """recycle() disposes of the connections; the next use opens a new one."""
    pool = DatabasePool(machine_pg)
    await pool.open()
    try:
        await pool.recycle()
        assert pool.stats().size == 0
        await pool.ping()
        assert pool.stats().created == 2
    finally:
        await pool.close()


async def test_in_memory_sqlite_uses_one_shared_connection() -> None:
    """':memory:' needs a static pool; it works, reports size 1 and refuses to resize."""
    pool = DatabasePool("sqlite+aiosqlite:///:memory:")
    await pool.open()
    try:
        await pool.ping()
        assert pool.stats().max_size == 1
        with pytest.raises(PoolResizeError, match="in-memory"):
            await pool.resize(4)
        assert await pool.drain() == 0
    finally:
        await pool.close()


def test_sync_driver_urls_are_upgraded_and_bad_urls_refused() -> None:
    """postgresql:// and sqlite:// get their async drivers; a non-URL names the variable."""
    assert async_url("postgresql://u:p@h/db").drivername == "postgresql+asyncpg"
    assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql+psycopg://h/db").drivername == "postgresql+psycopg"
    with pytest.raises(ConfigurationError, match="SENTIENT_DATABASE_URL"):
        async_url("not a url")


def test_engine_before_open_is_a_clear_error(sqlite_url: str) -> None:
    """Using the engine outside the lifespan raises NotStartedError naming the pool."""
    with pytest.raises(NotStartedError, match="'db' is not open"):
        _ = DatabasePool(sqlite_url).engine


async def test_stats_from_a_fresh_pool_are_zero(sqlite_url: str) -> None:
    """Before anything is opened every counter is zero and the cap is size + overflow."""
    pool = DatabasePool(sqlite_url, pool_size=4, max_overflow=6)
    stats = pool.stats()
    assert (stats.size, stats.max_size, stats.created, stats.overflow) == (0, 10, 0, 0)
    await pool.open()
    try:
        async with pool.engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await pool.close()
