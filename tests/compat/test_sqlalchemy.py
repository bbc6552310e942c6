"""SQLAlchemy queue-pool internals (fastapi_sentient._compat.sqlalchemy), on a real async engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from sqlalchemy.util import greenlet_spawn

from fastapi_sentient._compat import sqlalchemy as sqlalchemy_compat
from fastapi_sentient.exceptions import LibraryInternalsError


async def test_an_idle_connection_is_taken_from_the_queue_closed_and_forgotten(
    tmp_path: Path,
) -> None:
    """The queue holds the idle connection; closing it and forgetting it empties the pool's count."""
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        poolclass=AsyncAdaptedQueuePool,
        pool_size=2,
        max_overflow=0,
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text("select 1"))
        pool = engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        sqlalchemy_compat.check_queue_pool(pool)
        queue = sqlalchemy_compat.idle_queue(pool)
        assert (queue.qsize(), pool.checkedin(), pool.overflow()) == (1, 1, -1)

        def close_one() -> None:
            record = queue.get(False)
            try:
                record.close()
            finally:
                sqlalchemy_compat.forget_connection(pool)

        await greenlet_spawn(close_one)
        assert (queue.qsize(), pool.checkedin(), pool.overflow()) == (0, 0, -2)
        async with engine.connect() as connection:  # a fresh connection takes its place
            assert (await connection.execute(text("select 1"))).scalar() == 1
        assert pool.overflow() == -1
    finally:
        await engine.dispose()


def test_a_pool_without_its_queue_fails_loudly() -> None:
    """A pool missing ``_pool`` names sqlalchemy, its version and the attribute."""
    pool = QueuePool(lambda: None, pool_size=1)
    del pool._pool
    with pytest.raises(LibraryInternalsError, match=r"^sqlalchemy [\d.]+ has no _pool"):
        sqlalchemy_compat.check_queue_pool(pool)
