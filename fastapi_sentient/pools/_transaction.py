"""``transaction()``: run a unit of work in one database transaction, retrying conflicts.

BEGIN, run the operation, COMMIT, or ROLLBACK on error.  Under ``SERIALIZABLE``
(or ``REPEATABLE READ``) isolation PostgreSQL aborts one of two conflicting
transactions with a serialization failure (SQLSTATE 40001) or a deadlock (40P01)
and expects the client to run it again, so those —
and only those — are retried, with a short jittered backoff.  The operation must
therefore be safe to run more than once (no side effects outside the session).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # imported lazily: the package imports without the db extra
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from fastapi_sentient.pools._database import DatabasePool

T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def is_retryable(exc: BaseException) -> bool:
    """A serialization failure or deadlock: the transaction may simply run again."""
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state in RETRYABLE_SQLSTATES


async def transaction(
    source: DatabasePool | AsyncEngine | async_sessionmaker[AsyncSession],
    operation: Callable[[AsyncSession], Awaitable[T]],
    *,
    retries: int = 3,
    isolation_level: str | None = None,
    backoff: float = 0.02,
) -> T:
    """Run ``operation(session)`` in one transaction and return its result.

    Args:
        source: the pool (``sentient.pools.db``), an engine (``DbEngine``) or a
            session factory.
        operation: an async function of the session; it must not commit itself.
        retries: how many times a serialization failure or deadlock is retried.
        isolation_level: e.g. ``"SERIALIZABLE"`` for this transaction only.
        backoff: base of the jittered exponential wait between attempts, seconds.

    Returns:
        What ``operation`` returned, once the transaction committed.

    Raises:
        DBAPIError: the last failure, when it is not retryable or retries ran out.
    """
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

    from fastapi_sentient.pools._database import DatabasePool

    if isinstance(source, DatabasePool):
        maker = source.sessionmaker
    elif isinstance(source, AsyncEngine):
        maker = async_sessionmaker(source, expire_on_commit=False)
    else:
        maker = source
    attempt = 0
    while True:
        try:
            async with maker() as session, session.begin():
                if isolation_level is not None:
                    await session.connection(execution_options={"isolation_level": isolation_level})
                return await operation(session)
        except DBAPIError as exc:
            if attempt >= retries or not is_retryable(exc):
                raise
        attempt += 1
        await asyncio.sleep(backoff * 2**attempt * random.uniform(0.5, 1.5))
