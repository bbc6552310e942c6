"""Pool failures inside routes become 503 (504 for a statement timeout) with a clear JSON error,
never a hang or a bare 500.

An exhausted pool raises a :class:`~fastapi_sentient.exceptions.PoolTimeoutError`
after its acquire timeout; a database or Redis that is down raises the driver's
connection error.  Both mean "try again later" to the caller, so they are
answered as ``503`` with ``Retry-After``; the body names the dependency only
(the caller may be anyone), and the log line (masked) says which pool and what to do.  A statement cut at ``SENTIENT_DB_STATEMENT_TIMEOUT``
is a gateway timeout (``504``, ``db_timeout``): the database took too long, and
retrying the same work at once would not help.  Handlers are added only for
exception classes the app has no handler for yet, so a user's own handler
always wins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fastapi_sentient.exceptions import DatabaseTimeoutError, PoolTimeoutError
from fastapi_sentient.pools._base import PoolUnavailableError

if TYPE_CHECKING:
    from fastapi_sentient._redact import Redactor

logger = logging.getLogger("fastapi_sentient.pools")

#: SQLSTATEs that mean the server cannot serve now: class 08 (connection
#: exception), admin/crash shutdown, starting up.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")

Handler = Callable[[Request, Exception], Any]

_NAMES = {"db": "the database", "redis": "Redis", "http": "an HTTP dependency"}


class _LogLimiter:
    """One warning per error kind per interval: an outage must not flood the logs."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -self.interval) >= self.interval:
            self._last[key] = now
            return True
        return False


def db_unavailable(exc: BaseException) -> bool:
    """Whether a SQLAlchemy error means the database is unreachable (not a bad query)."""
    if getattr(exc, "connection_invalidated", False):
        return True
    orig = getattr(exc, "orig", None)
    if isinstance(orig, OSError | ConnectionError):
        return True
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATES)


def _response(error: str, detail: str) -> Response:
    return JSONResponse(
        {"error": error, "detail": detail}, status_code=503, headers={"Retry-After": "1"}
    )


def install_error_handlers(  # noqa: C901  one small nested handler per driver error
    app: Any, *, redactor: Redactor, database: bool, redis: bool
) -> None:
    """Answer pool exhaustion and unreachable pools as 503 on ``app``.

    Driver errors (SQLAlchemy's, redis-py's) are handled only when that pool is
    configured, so an app without pools keeps its exact error behaviour.  ``app``
    is a FastAPI or Starlette app; anything without ``add_exception_handler`` is
    left alone.
    """
    add = getattr(app, "add_exception_handler", None)
    if add is None:
        return
    existing: dict[Any, Any] = getattr(app, "exception_handlers", {})
    redact = redactor
    limiter = _LogLimiter()

    # The caller may be anyone: the body names the dependency, never its address or
    # the driver's words; the log line (masked) keeps the details for the operator.
    def unavailable(kind: str, exc: BaseException) -> Response:
        text = str(exc) if isinstance(exc, PoolUnavailableError) else f"{type(exc).__name__}: {exc}"
        detail = redact(" ".join(text.split()))
        if limiter.allow(kind):
            logger.warning("%s unavailable, answering 503: %s", kind, detail)
        return _response(
            f"{kind}_unavailable", f"{_NAMES.get(kind, kind)} is unavailable; retry later"
        )

    async def pool_timeout(request: Request, exc: Exception) -> Response:
        detail = redact(str(exc))
        if limiter.allow("pool_exhausted"):
            logger.warning("answering 503: %s", detail)
        return _response("pool_exhausted", "no free connection to a dependency; retry later")

    async def pool_unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PoolUnavailableError)
        return unavailable(exc.kind, exc)

    handlers: list[tuple[type[BaseException], Handler]] = [
        (PoolTimeoutError, pool_timeout),
        (PoolUnavailableError, pool_unavailable),
    ]
    if database:
        from sqlalchemy.exc import DBAPIError

        async def database_timeout(request: Request, exc: Exception) -> Response:
            detail = redact(str(exc))
            if limiter.allow("db_timeout"):
                logger.warning("answering 504: %s", detail)
            return JSONResponse({"error": "db_timeout", "detail": detail}, status_code=504)

        handlers.append((DatabaseTimeoutError, database_timeout))

        async def database_error(request: Request, exc: Exception) -> Response:
            if not db_unavailable(exc):
                raise exc  # a bad query stays a 500, exactly as without us
            return unavailable("db", exc)

        handlers.append((DBAPIError, database_error))
    if redis:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import MaxConnectionsError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        async def redis_error(request: Request, exc: Exception) -> Response:
            if isinstance(exc, MaxConnectionsError):  # a full node of a non-queueing pool
                reason = str(exc) or "every connection of a Redis node is in use"
                full = PoolTimeoutError(f"{reason}; raise SENTIENT_REDIS_MAX_CONNECTIONS")
                return await pool_timeout(request, full)
            return unavailable("redis", exc)

        handlers += [(RedisConnectionError, redis_error), (RedisTimeoutError, redis_error)]
    for exc_class, handler in handlers:
        if exc_class not in existing:
            add(exc_class, handler)
