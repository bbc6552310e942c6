"""SQLAlchemy's queue-pool internals.

``SENTIENT_DB_POOL_IDLE_TIMEOUT`` closes connections that sat idle too long,
and draining closes every idle one, while busy connections stay.  SQLAlchemy
closes pooled connections only all at once (``dispose()``, which replaces the
pool); the idle ones live in the pool's queue (``QueuePool._pool``), and a
connection closed from outside must be taken off the pool's count
(``QueuePool._dec_overflow()``), as the pool does when it discards one itself.
No fallback: without them idle connections could not be closed, so the pool
checks both when it is built and a missing one raises :class:`LibraryInternalsError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi_sentient._compat import read

if TYPE_CHECKING:
    from sqlalchemy.pool import QueuePool

__all__ = ["check_queue_pool", "forget_connection", "idle_queue"]

_SQLALCHEMY = "sqlalchemy"


def idle_queue(pool: QueuePool) -> Any:
    """``QueuePool._pool``: the queue of idle connection records (``get(False)``/``put(record, False)``)."""
    return read(pool, "_pool", _SQLALCHEMY, "closing idle database connections")


def forget_connection(pool: QueuePool) -> None:
    """``QueuePool._dec_overflow()``: one connection closed outside the pool leaves its count."""
    read(pool, "_dec_overflow", _SQLALCHEMY, "closing idle database connections")()


def check_queue_pool(pool: QueuePool) -> None:
    """Read both internals once, so a SQLAlchemy without them fails when the engine is built."""
    idle_queue(pool)
    read(pool, "_dec_overflow", _SQLALCHEMY, "closing idle database connections")
