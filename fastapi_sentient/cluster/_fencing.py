"""Fencing: making a resource reject writes from a leader that has been superseded.

A lease alone cannot stop a leader that was paused (GC, SIGSTOP, a VM
migration, a blocked event loop) between checking ``leadership.valid`` and
writing: when it resumes, another node may already lead.  The epoch can: it
is unique to one term and greater than every earlier term's, so a resource
that remembers the highest epoch it accepted can refuse anything older,
atomically with the write itself.

A fence accepts a write when ``epoch > max_epoch``, or when
``epoch == max_epoch`` and the term's random token matches the one recorded
(retries within one term; and if the store ever re-issued an epoch after data
loss, the token tells the two terms apart).  A rejection raises
:class:`StaleEpochError` and tells the coordinator to step down and never to
campaign for an epoch at or below the fence's again, even when the rejected
write belonged to a term that had already ended.  :func:`fenced_epoch` and
:meth:`RedisFence.epoch` read the highest epoch a fence has accepted, for
``cluster.observe_epoch``.

SQL — the guard row is updated in the same transaction as the protected
writes; the row lock serialises concurrent leaders and the ``WHERE`` clause
rejects the stale one::

    async with engine.begin() as conn:
        await fence_sql(conn, leadership, resource="billing")
        await conn.execute(text("UPDATE invoices SET ..."))

Redis — the check runs inside the same script as the write::

    fence = RedisFence(redis, "billing:{jobs}:fence")
    append = fence.script("redis.call('RPUSH', KEYS[1], ARGV[1]) return 1")
    await append(leadership, keys=["billing:{jobs}:log"], args=[payload])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi_sentient.cluster._errors import StaleEpochError
from fastapi_sentient.cluster._leadership import Leadership
from fastapi_sentient.exceptions import ConfigurationError, MissingDependencyError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

DEFAULT_TABLE = "sentient_fence"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _table(name: str) -> str:
    if not _IDENTIFIER.match(name):
        msg = f"fence table name {name!r} must be a plain SQL identifier"
        raise ConfigurationError(msg)
    return name


def _rejected(leadership: Leadership, current: int) -> StaleEpochError:
    leadership.superseded(current)
    return StaleEpochError(leadership.epoch, current)


# --- SQL -----------------------------------------------------------------------------------


def fence_table_ddl(table: str = DEFAULT_TABLE) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the guard table (portable SQL)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {_table(table)} ("
        "resource VARCHAR(200) PRIMARY KEY, "
        "max_epoch BIGINT NOT NULL, "
        "holder VARCHAR(64) NOT NULL)"
    )


async def create_fence_table(
    conn: AsyncConnection | AsyncSession, table: str = DEFAULT_TABLE
) -> None:
    """Create the guard table if it does not exist (or ship :func:`fence_table_ddl` in a migration)."""
    text = _sql_text()
    await conn.execute(text(fence_table_ddl(table)))


async def fence_sql(
    conn: AsyncConnection | AsyncSession,
    leadership: Leadership,
    *,
    resource: str = "default",
    table: str = DEFAULT_TABLE,
) -> None:
    """Claim ``resource`` for ``leadership``'s epoch inside the caller's transaction.

    Call it first in the transaction that performs the leader-only writes; the
    guard row stays locked until commit, so a stale leader's transaction either
    waits and is then rejected, or was committed entirely before ours.

    Raises:
        StaleEpochError: a newer (or another same-epoch) leader has claimed it;
            roll back.
    """
    text = _sql_text()
    name = _table(table)
    params = {"resource": resource, "epoch": leadership.epoch, "holder": leadership.token}
    claim = text(
        f"UPDATE {name} SET max_epoch = :epoch, holder = :holder "
        "WHERE resource = :resource AND (max_epoch < :epoch "
        "OR (max_epoch = :epoch AND holder = :holder))"
    )
    result: Any = await conn.execute(claim, params)
    if result.rowcount == 1:
        return
    row = (
        await conn.execute(text(f"SELECT max_epoch FROM {name} WHERE resource = :resource"), params)
    ).first()
    if row is not None:
        raise _rejected(leadership, int(row[0]))
    from sqlalchemy.exc import IntegrityError

    try:
        async with conn.begin_nested():
            await conn.execute(
                text(
                    f"INSERT INTO {name} (resource, max_epoch, holder) "
                    "VALUES (:resource, :epoch, :holder)"
                ),
                params,
            )
    except IntegrityError:
        # another leader created the row first: compare against it
        result = await conn.execute(claim, params)
        if result.rowcount != 1:
            row = (
                await conn.execute(
                    text(f"SELECT max_epoch FROM {name} WHERE resource = :resource"), params
                )
            ).first()
            raise _rejected(leadership, int(row[0]) if row else leadership.epoch) from None


async def fenced_epoch(
    conn: AsyncConnection | AsyncSession,
    *,
    resource: str = "default",
    table: str = DEFAULT_TABLE,
) -> int:
    """The highest epoch the guard of ``resource`` has accepted (0 before the first write).

    Hand it to ``cluster.observe_epoch`` so the next election issues a greater one.
    """
    text = _sql_text()
    row = (
        await conn.execute(
            text(f"SELECT max_epoch FROM {_table(table)} WHERE resource = :resource"),
            {"resource": resource},
        )
    ).first()
    return int(row[0]) if row is not None else 0


def _sql_text() -> Any:
    try:
        from sqlalchemy import text
    except ImportError:  # pragma: no cover - the db extra is part of the dev install
        package = "sqlalchemy"
        raise MissingDependencyError(package, "db") from None
    return text


# --- Redis ---------------------------------------------------------------------------------

_GUARD = """
local fence = table.remove(KEYS, 1)
local epoch = tonumber(table.remove(ARGV, 1))
local holder = table.remove(ARGV, 1)
local cur = redis.call('HMGET', fence, 'epoch', 'holder')
local max = tonumber(cur[1] or '0')
if epoch < max or (epoch == max and cur[2] ~= holder) then
  return redis.error_reply('STALE_EPOCH ' .. string.format('%d', max))
end
redis.call('HSET', fence, 'epoch', string.format('%d', epoch), 'holder', holder)
local function body()
"""


class RedisFence:
    """Leader-only writes to Redis-held state, checked and applied in one script.

    ``key`` is the guard hash; in Redis Cluster give it the same hash tag as
    the keys the scripts write (``app:{jobs}:fence`` with ``app:{jobs}:…``).
    """

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key

    async def epoch(self) -> int:
        """The highest epoch this guard has accepted (0 before the first write).

        Hand it to ``cluster.observe_epoch`` so the next election issues a greater one.
        """
        value = await self.client.hget(self.key, "epoch")
        return int(value) if value is not None else 0

    def script(self, body: str) -> FencedScript:
        """Wrap a Lua ``body`` (its own ``KEYS``/``ARGV``, its own ``return``) in the guard."""
        return FencedScript(
            self, self.client.register_script(_GUARD + body + "\nend\nreturn body()\n")
        )


class FencedScript:
    """A Lua script that runs only for a current epoch; see :meth:`RedisFence.script`."""

    def __init__(self, fence: RedisFence, script: Any) -> None:
        self._fence = fence
        self._script = script

    async def __call__(
        self, leadership: Leadership, keys: Sequence[str] = (), args: Sequence[Any] = ()
    ) -> Any:
        """Run the body for ``leadership``; the script's reply is returned.

        Raises:
            StaleEpochError: the guard has seen a newer term (nothing was written).
        """
        from redis.exceptions import ResponseError

        try:
            return await self._script(
                keys=[self._fence.key, *keys],
                args=[leadership.epoch, leadership.token, *args],
            )
        except ResponseError as exc:
            text = str(exc)
            if text.startswith("STALE_EPOCH"):
                raise _rejected(leadership, int(text.split()[1])) from None
            raise
