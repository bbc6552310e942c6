"""The SQLAlchemy pool: an async engine from ``SENTIENT_DATABASE_URL``.

PostgreSQL goes through asyncpg and SQLite through aiosqlite (a plain
``postgresql://`` or ``sqlite://`` URL is upgraded to those drivers).  The
engine's pool is a metered subclass of SQLAlchemy's own
``AsyncAdaptedQueuePool``: SQLAlchemy does the pooling, we only time each
acquire, count waiting callers and turn its acquire timeout into a
:class:`DatabasePoolTimeoutError`, which routes answer as 503.

Every wait on the database is bounded.  PostgreSQL gets a ``statement_timeout``
and an ``idle_in_transaction_session_timeout`` for each session, and the driver
a command timeout one second longer, for a server that stops answering
altogether; either way the statement ends as :class:`DatabaseTimeoutError`
(answered 504) and the connection goes back to the pool — invalidated when the
server went silent, since resetting it would wait on the same silence.
Connections idle in the pool longer than the idle timeout are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool, StaticPool
from sqlalchemy.util import greenlet_spawn

from fastapi_sentient._compat import sqlalchemy as sqlalchemy_compat
from fastapi_sentient.exceptions import (
    ConfigurationError,
    DatabaseTimeoutError,
    NotStartedError,
    PoolTimeoutError,
)
from fastapi_sentient.pools._base import (
    PoolMetrics,
    PoolResizeError,
    PoolStats,
    PoolUnavailableError,
)

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider
    from sqlalchemy.engine import URL
    from sqlalchemy.pool import PoolProxiedConnection

    from fastapi_sentient._settings_groups import DatabaseSettings

logger = logging.getLogger("fastapi_sentient.pools")

_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
#: PostgreSQL's query_canceled: what statement_timeout raises.
_QUERY_CANCELED = "57014"
#: Margin of the driver's own timeout over the server's statement_timeout.
_CLIENT_MARGIN = 1.0
#: Key of a pooled connection's record info: when it last went back to the pool.
_IDLE_SINCE = "sentient_idle_since"
_DRIVERS |= {"sqlite": "sqlite+aiosqlite"}


class DatabasePoolTimeoutError(PoolTimeoutError, exc.TimeoutError):
    """No database connection within ``SENTIENT_DB_POOL_TIMEOUT`` (still a SQLAlchemy TimeoutError)."""


@dataclass(slots=True)
class _PoolState:
    """What the metered pool class shares across SQLAlchemy's ``recreate()``."""

    name: str
    metrics: PoolMetrics
    size: int
    max_overflow: int
    idle_timeout: float = 0.0
    keep_idle: int = 0


class _MeteredQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's async queue pool, timed and counted; ``state`` is set per engine."""

    state: ClassVar[_PoolState]

    def __init__(self, creator: Any, pool_size: int = 5, **kw: Any) -> None:
        # recreate() (dispose, recycle) passes the old size; resize() changes state.size
        super().__init__(creator, pool_size=self.state.size, **kw)
        sqlalchemy_compat.check_queue_pool(self)

    def connect(self) -> PoolProxiedConnection:
        state = self.state
        try:
            with state.metrics.acquiring():
                return super().connect()
        except exc.TimeoutError as error:
            if isinstance(error, DatabasePoolTimeoutError):
                raise
            state.metrics.timeout()
            msg = (
                f"database pool {state.name!r} exhausted: no connection within "
                f"{self.timeout():g}s ({self.checkedout()} in use of {state.size} + "
                f"{state.max_overflow} overflow); raise SENTIENT_DB_POOL_SIZE or "
                "SENTIENT_DB_MAX_OVERFLOW, or release sessions sooner"
            )
            raise DatabasePoolTimeoutError(msg) from None
        except OSError as error:  # refused, unreachable, connect timeout
            if isinstance(error, PoolUnavailableError | PoolTimeoutError):
                raise
            msg = f"database {state.name!r} is unreachable: {type(error).__name__}: {error}"
            raise PoolUnavailableError(msg, pool=state.name, kind="db") from error

    def close_idle(self, older_than: float | None = None) -> int:
        """Close the connections waiting in the pool (runs inside a greenlet).

        With ``older_than``, only those idle longer than that many seconds, and
        the newest ``keep_idle`` idle connections stay open whatever their age.
        """
        queue = sqlalchemy_compat.idle_queue(self)
        records = []
        while True:
            try:
                records.append(queue.get(False))
            except Exception:  # noqa: BLE001  the pool queue's Empty class is not public
                break
        now = time.monotonic()
        if older_than is None:
            close, keep = records, []
        else:
            records.sort(key=lambda record: record.info.get(_IDLE_SINCE, now), reverse=True)
            keep, close = records[: self.state.keep_idle], []
            for record in records[self.state.keep_idle :]:
                idle = now - record.info.get(_IDLE_SINCE, now)
                (close if idle > older_than else keep).append(record)
        # back in the pool before closing the others (closing awaits the driver)
        for record in reversed(keep):
            queue.put(record, False)
        for record in close:
            try:
                record.close()
            finally:
                sqlalchemy_compat.forget_connection(self)
        return len(close)


def _mark_idle(dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def async_url(url: str) -> URL:
    """``url`` parsed, with a sync PostgreSQL/SQLite driver upgraded to its async one."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        msg = "SENTIENT_DATABASE_URL is not a URL; use postgresql+asyncpg://user:pass@host/db or sqlite+aiosqlite:///path.db"
        raise ConfigurationError(msg) from None
    upgraded = _DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=upgraded) if upgraded else parsed


class DatabasePool:
    """An ``AsyncEngine`` and its session factory, with stats, drain and resize."""

    kind = "db"

    def __init__(
        self,
        url: str,
        *,
        name: str = "db",
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 5.0,
        pool_recycle: float = 1800.0,
        pre_ping: bool = True,
        connect_timeout: float = 5.0,
        warmup: int = 1,
        echo: bool = False,
        required: bool = True,
        critical: bool = True,
        statement_timeout: float = 30.0,
        idle_in_transaction_timeout: float = 60.0,
        idle_timeout: float = 300.0,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.required = required
        self.critical = critical
        self.metrics = PoolMetrics(name, self.kind)
        self._url = async_url(url)
        self._state = _PoolState(
            name, self.metrics, pool_size, max_overflow, idle_timeout, max(0, warmup)
        )
        self.statement_timeout = statement_timeout
        self.idle_in_transaction_timeout = idle_in_transaction_timeout
        self._reaper: asyncio.Task[None] | None = None
        self.pool_timeout = pool_timeout
        self.pool_recycle = pool_recycle
        self.pre_ping = pre_ping
        self.connect_timeout = connect_timeout
        self.warmup = max(0, warmup)
        self.echo = echo
        self.engine_options = dict(engine_options or {})
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> DatabasePool:
        """The pool ``SENTIENT_DATABASE_URL`` and the ``SENTIENT_DB_*`` settings describe."""
        assert settings.url is not None
        return cls(
            settings.url,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
            pool_recycle=settings.pool_recycle,
            pre_ping=settings.pool_pre_ping,
            connect_timeout=settings.connect_timeout,
            warmup=settings.pool_warmup,
            echo=settings.echo,
            required=settings.required,
            critical=settings.critical,
            statement_timeout=settings.statement_timeout,
            idle_in_transaction_timeout=settings.idle_in_transaction_timeout,
            idle_timeout=settings.pool_idle_timeout,
        )

    # --- the engine -----------------------------------------------------------------------

    @property
    def is_static(self) -> bool:
        """An in-memory SQLite database: one shared connection, no pool to size."""
        return self._url.get_backend_name() == "sqlite" and self._url.database in (
            None,
            "",
            ":memory:",
        )

    @property
    def engine(self) -> AsyncEngine:
        """The engine, once the app has started."""
        if self._engine is None:
            msg = f"database pool {self.name!r} is not open; it opens with the app's lifespan"
            raise NotStartedError(msg)
        return self._engine

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """Factory of ``AsyncSession`` bound to the engine (``expire_on_commit=False``)."""
        if self._sessions is None:
            self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        return self._sessions

    def session(self) -> AsyncSession:
        """A new session; use it as ``async with pool.session() as session:``."""
        return self.sessionmaker()

    def _create_engine(self) -> AsyncEngine:
        options: dict[str, Any] = {"echo": self.echo, "pool_pre_ping": self.pre_ping}
        if self.is_static:
            options["poolclass"] = StaticPool
        else:
            options |= {
                "poolclass": type(
                    "SentientQueuePool", (_MeteredQueuePool,), {"state": self._state}
                ),
                "pool_size": self._state.size,
                "max_overflow": self._state.max_overflow,
                "pool_timeout": self.pool_timeout,
                "pool_recycle": self.pool_recycle,
            }
        if self._url.get_backend_name() == "postgresql":
            options["connect_args"] = self._postgres_connect_args()
        options |= self.engine_options
        engine = create_async_engine(self._url, **options)
        event.listen(engine.sync_engine, "handle_error", self._on_error)
        if self._state.idle_timeout > 0 and not self.is_static:
            event.listen(engine.sync_engine.pool, "checkin", _mark_idle)
            event.listen(engine.sync_engine.pool, "checkout", self._refuse_stale)
        metrics = self.metrics
        event.listen(engine.sync_engine.pool, "connect", lambda *_: metrics.connection_created())
        event.listen(engine.sync_engine.pool, "close", lambda *_: metrics.connection_closed())
        event.listen(
            engine.sync_engine.pool, "close_detached", lambda *_: metrics.connection_closed()
        )
        return engine

    def _postgres_connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"timeout": self.connect_timeout}
        if self._url.get_driver_name() != "asyncpg":
            return args  # other drivers: pass their own options through engine_options
        server_settings: dict[str, str] = {}
        if self.statement_timeout > 0:
            server_settings["statement_timeout"] = str(round(self.statement_timeout * 1000))
            args["command_timeout"] = self.statement_timeout + _CLIENT_MARGIN
        if self.idle_in_transaction_timeout > 0:
            server_settings["idle_in_transaction_session_timeout"] = str(
                round(self.idle_in_transaction_timeout * 1000)
            )
        if server_settings:
            args["server_settings"] = server_settings
        return args

    def _on_error(self, context: Any) -> BaseException | None:
        """Turn a statement timeout (server's or driver's) into :class:`DatabaseTimeoutError`."""
        original = context.original_exception
        state = getattr(original, "sqlstate", None)
        if isinstance(original, TimeoutError):
            # the server did not answer: resetting the connection would wait on it again
            context.is_disconnect = True
            cause = "the database stopped answering"
        elif state == _QUERY_CANCELED:
            cause = "the statement was cancelled at the statement timeout"
        else:
            return None
        msg = (
            f"database {self.name!r}: {cause} "
            f"(SENTIENT_DB_STATEMENT_TIMEOUT={self.statement_timeout:g}s)"
        )
        return DatabaseTimeoutError(msg)

    def _refuse_stale(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """On checkout, replace a connection that sat idle past the idle timeout."""
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is not None and time.monotonic() - idle_since > self._state.idle_timeout:
            msg = "idle past SENTIENT_DB_POOL_IDLE_TIMEOUT"
            raise exc.DisconnectionError(msg)

    async def _reap_idle(self) -> None:
        """Close connections idle past the idle timeout, checking every half timeout."""
        timeout = self._state.idle_timeout
        while True:
            await asyncio.sleep(max(timeout / 2, 0.05))
            pool = self._engine.sync_engine.pool if self._engine is not None else None
            if isinstance(pool, _MeteredQueuePool):
                # shielded: a close cut halfway by shutdown would leave a half-closed socket
                closed = await asyncio.shield(greenlet_spawn(pool.close_idle, timeout))
                if closed:
                    logger.debug("closed %d connection(s) idle over %gs", closed, timeout)

    # --- Pool protocol --------------------------------------------------------------------

    async def open(self) -> None:
        """Create the engine (once) and open ``warmup`` connections concurrently."""
        if self._engine is None:
            self._engine = self._create_engine()
        count = 1 if self.is_static else min(max(self.warmup, 1), self._state.size)
        async with contextlib.AsyncExitStack() as stack:
            connections = await asyncio.gather(
                *(stack.enter_async_context(self.engine.connect()) for _ in range(count))
            )
            for connection in connections:
                await connection.execute(text("SELECT 1"))
        if self._state.idle_timeout > 0 and not self.is_static and self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(
                self._reap_idle(), name=f"sentient:db-idle:{self.name}"
            )

    async def close(self) -> None:
        """Dispose of the engine; later use raises :class:`NotStartedError`."""
        reaper, self._reaper = self._reaper, None
        if reaper is not None:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    async def ping(self) -> None:
        """``SELECT 1`` through the pool."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    def stats(self) -> PoolStats:
        """Checked-out and idle connections from SQLAlchemy, the rest from our counters."""
        state = self._state
        in_use = idle = 0
        base, cap = state.size, state.size + state.max_overflow
        pool = self._engine.sync_engine.pool if self._engine is not None else None
        if isinstance(pool, QueuePool):
            in_use, idle = pool.checkedout(), pool.checkedin()
        elif pool is not None:
            base = cap = 1
        return self.metrics.snapshot(
            size=in_use + idle,
            max_size=cap,
            in_use=in_use,
            idle=idle,
            overflow=max(0, in_use + idle - base),
        )

    async def recycle(self) -> None:
        """Dispose of the pool: idle connections close, new ones are made on demand."""
        if self._engine is not None:
            await self._engine.dispose()

    async def drain(self) -> int:
        """Close idle connections; checked-out ones are untouched."""
        pool = self._engine.sync_engine.pool if self._engine is not None else None
        if not isinstance(pool, _MeteredQueuePool):
            return 0
        return await greenlet_spawn(pool.close_idle)

    def instrument(self, tracer_provider: TracerProvider) -> bool:
        """A CLIENT span per statement, from the engine's cursor events (once open)."""
        from fastapi_sentient.tracing._clients import DatabaseSpans, pool_tracer

        DatabaseSpans(pool_tracer(tracer_provider), self.engine.sync_engine)
        return True

    async def resize(self, size: int) -> None:
        """Change the base size; the pool is replaced (checked-out connections finish on the old one)."""
        if size < 1:
            msg = f"database pool size must be at least 1, got {size}"
            raise PoolResizeError(msg)
        if self.is_static:
            msg = (
                "an in-memory SQLite database has a single shared connection; it cannot be resized"
            )
            raise PoolResizeError(msg)
        self._state.size = size
        if self._engine is not None:
            await self._engine.dispose()
