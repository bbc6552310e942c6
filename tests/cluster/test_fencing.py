"""Fencing helpers: stale leaders' writes are rejected by the resource itself."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from fastapi_sentient.cluster import (
    Leadership,
    RedisFence,
    StaleEpochError,
    create_fence_table,
    fence_sql,
)
from tests.cluster.conftest import eventually, node, precreate_boot, running
from tests.support.procs import port_open
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def term(epoch: int, seen: list[int] | None = None) -> Leadership:
    """A leadership term as the coordinator would hand it to a leader task."""
    sink = seen if seen is not None else []
    return Leadership(epoch, secrets.token_hex(16), "n", on_superseded=sink.append)


@dataclass
class Db:
    """An engine with a fresh guard table and a table of protected writes."""

    engine: AsyncEngine
    fence: str
    data: str


@pytest.fixture(params=["postgresql", "sqlite"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    """PostgreSQL (the machine's) and SQLite."""
    if request.param == "postgresql":
        if not port_open(5432):
            pytest.fail("PostgreSQL is not listening on 127.0.0.1:5432")
        url = PG
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/fence.db"
    suffix = secrets.token_hex(4)
    db = Db(create_async_engine(url), f"fence_{suffix}", f"jobs_{suffix}")
    async with db.engine.begin() as conn:
        await create_fence_table(conn, db.fence)
        await conn.execute(text(f"CREATE TABLE {db.data} (epoch BIGINT)"))
    try:
        yield db
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE {db.fence}"))
            await conn.execute(text(f"DROP TABLE {db.data}"))
        await db.engine.dispose()


async def guarded_write(db: Db, leadership: Leadership) -> None:
    async with db.engine.begin() as conn:
        await fence_sql(conn, leadership, resource="jobs", table=db.fence)
        await conn.execute(
            text(f"INSERT INTO {db.data} (epoch) VALUES (:e)"), {"e": leadership.epoch}
        )


async def written(db: Db) -> list[int]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT epoch FROM {db.data}"))
        return [int(r[0]) for r in rows]


async def test_sql_fence_rejects_stale_epochs(db: Db) -> None:
    """The SQL fence rejects an older epoch or a foreign same-epoch term, rolling its write back."""
    seen: list[int] = []
    five = term(5, seen)
    await guarded_write(db, five)
    await guarded_write(db, five)  # a retry within the same term
    with pytest.raises(StaleEpochError) as caught:
        await guarded_write(db, term(4, seen))
    assert (caught.value.epoch, caught.value.current) == (4, 5)
    with pytest.raises(StaleEpochError):
        await guarded_write(db, term(5, seen))  # same epoch, different token
    await guarded_write(db, term(6, seen))
    with pytest.raises(StaleEpochError):
        await guarded_write(db, five)
    assert sorted(await written(db)) == [5, 5, 6]
    assert seen == [5, 5, 6]  # each rejection told the term it was superseded


async def test_sql_fence_serialises_concurrent_leaders() -> None:
    """On PostgreSQL a stale leader's transaction waits on the guard row and is then rejected."""
    if not port_open(5432):
        pytest.fail("PostgreSQL is not listening on 127.0.0.1:5432")
    engine = create_async_engine(PG)
    table = f"fence_{secrets.token_hex(4)}"
    try:
        async with engine.begin() as conn:
            await create_fence_table(conn, table)
        async with engine.connect() as newer, engine.connect() as stale:
            await newer.begin()
            await fence_sql(newer, term(7), resource="r", table=table)
            waiting = asyncio.create_task(stale_claim(stale, table))
            await asyncio.sleep(0.2)
            assert not waiting.done()  # blocked on the guard row lock
            await newer.commit()
            with pytest.raises(StaleEpochError):
                await waiting
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await engine.dispose()


async def stale_claim(conn: AsyncConnection, table: str) -> None:
    await conn.begin()
    try:
        await fence_sql(conn, term(6), resource="r", table=table)
    finally:
        await conn.rollback()


async def test_redis_fence_checks_the_epoch_inside_the_script(redis_proc: RedisServer) -> None:
    """The guard and the write run in one script: a stale epoch writes nothing."""
    client = aioredis.Redis(port=redis_proc.port, decode_responses=True)
    append = RedisFence(client, "app:{jobs}:fence").script(
        "redis.call('RPUSH', KEYS[1], ARGV[1]) return redis.call('LLEN', KEYS[1])"
    )
    seen: list[int] = []
    eight = term(8, seen)
    assert await append(eight, keys=["app:{jobs}:log"], args=["a"]) == 1
    assert await append(eight, keys=["app:{jobs}:log"], args=["b"]) == 2
    with pytest.raises(StaleEpochError) as caught:
        await append(term(7, seen), keys=["app:{jobs}:log"], args=["stale"])
    assert caught.value.current == 8
    with pytest.raises(StaleEpochError):
        await append(term(8, seen), keys=["app:{jobs}:log"], args=["twin"])
    assert await append(term(9, seen), keys=["app:{jobs}:log"], args=["c"]) == 3
    assert await client.lrange("app:{jobs}:log", 0, -1) == ["a", "b", "c"]
    assert seen == [8, 8]
    await client.aclose()


async def test_a_rejected_leader_steps_down_and_is_reelected_above_the_fence(
    redis_proc: RedisServer,
) -> None:
    """A leader rejected by a fence steps down and the next term's epoch is above the fence's."""
    precreate_boot(redis_proc.port)
    client = aioredis.Redis(port=redis_proc.port, decode_responses=True)
    await client.hset("app:{jobs}:fence", mapping={"epoch": 41, "holder": "old"})
    append = RedisFence(client, "app:{jobs}:fence").script(
        "redis.call('RPUSH', KEYS[1], ARGV[1]) return 1"
    )
    app, sentient = node(redis_proc.url, "solo")
    stops: list[str | None] = []
    sentient.cluster.on("stopped_leading")(lambda e: stops.append(e.reason))

    @sentient.cluster.leader_task
    async def work(leadership: Leadership) -> None:
        await append(leadership, keys=["app:{jobs}:log"], args=[str(leadership.epoch)])
        await asyncio.Event().wait()

    async with running(app):
        await eventually(lambda: (sentient.cluster.epoch or 0) > 41, 10, "an epoch above 41")
        log = await eventually_list(client)
    assert stops[0] == "superseded"
    assert log == ["42"]
    await client.aclose()


async def eventually_list(client: aioredis.Redis) -> list[str]:
    async with asyncio.timeout(5):
        while not (items := await client.lrange("app:{jobs}:log", 0, -1)):
            await asyncio.sleep(0.01)
    return list(items)
