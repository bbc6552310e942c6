"""transaction(): commit, rollback and retry of serialization failures on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_sentient import transaction
from fastapi_sentient.pools._database import DatabasePool
from fastapi_sentient.pools._transaction import is_retryable


@pytest.fixture
async def pool_and_table(machine_pg: str) -> AsyncIterator[tuple[DatabasePool, str]]:
    """A pool on the machine's PostgreSQL and a fresh table of this test's own."""
    pool = DatabasePool(machine_pg, pool_size=4)
    await pool.open()
    table = f"ledger_{uuid.uuid4().hex[:12]}"
    async with pool.engine.begin() as connection:
        await connection.execute(text(f"CREATE TABLE {table} (amount INT)"))
    try:
        yield pool, table
    finally:
        async with pool.engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE {table}"))
        await pool.close()


async def count(pool: DatabasePool, table: str) -> int:
    async with pool.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_commits_the_result_and_rolls_back_on_error(
    pool_and_table: tuple[DatabasePool, str],
) -> None:
    """The operation's writes are committed when it returns, rolled back when it raises."""
    pool, table = pool_and_table

    async def insert(session: AsyncSession) -> str:
        await session.execute(text(f"INSERT INTO {table} VALUES (1)"))
        return "done"

    async def insert_then_fail(session: AsyncSession) -> None:
        await session.execute(text(f"INSERT INTO {table} VALUES (2)"))
        raise LookupError("business rule")

    assert await transaction(pool, insert) == "done"
    with pytest.raises(LookupError):
        await transaction(pool.engine, insert_then_fail)
    assert await count(pool, table) == 1


async def test_serialization_failures_are_retried(
    pool_and_table: tuple[DatabasePool, str],
) -> None:
    """Two conflicting SERIALIZABLE transactions both end committed: the loser runs again."""
    pool, table = pool_and_table
    both_read = asyncio.Barrier(2)
    attempts: list[str] = []

    def make(name: str, amount: int):  # type: ignore[no-untyped-def]
        async def operation(session: AsyncSession) -> None:
            attempts.append(name)
            total = (
                await session.execute(text(f"SELECT coalesce(sum(amount), 0) FROM {table}"))
            ).scalar_one()
            if attempts.count(name) == 1:
                await both_read.wait()
            await session.execute(text(f"INSERT INTO {table} VALUES (:a)"), {"a": amount + total})

        return operation

    await asyncio.gather(
        transaction(pool, make("a", 1), isolation_level="SERIALIZABLE"),
        transaction(pool, make("b", 10), isolation_level="SERIALIZABLE"),
    )
    assert len(attempts) == 3  # one of the two ran a second time
    assert await count(pool, table) == 2


async def test_non_retryable_errors_are_raised_at_once(
    pool_and_table: tuple[DatabasePool, str],
) -> None:
    """A failure that is not a serialization conflict is not retried."""
    pool, _ = pool_and_table
    calls = 0

    async def bad(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        await session.execute(text("SELECT * FROM no_such_table_here"))

    with pytest.raises(DBAPIError) as caught:
        await transaction(pool, bad)
    assert calls == 1
    assert not is_retryable(caught.value)
