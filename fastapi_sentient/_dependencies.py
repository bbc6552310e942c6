"""Route dependencies for the pools: ``DbSession``, ``DbEngine``, ``RedisClient``, ``http_client``.

Routes written with them read like plain FastAPI::

    @app.get("/users/{user_id}")
    async def get_user(user_id: int, session: DbSession, cache: RedisClient) -> dict:
        ...

``DbSession`` is one ``AsyncSession`` per request, committed when the route
returns and rolled back when it raises; it ends before the response is sent, so
a failed commit is answered as an error, never as a success.  The other aliases
hand out the lifespan-owned engine and clients, which are shared and must not
be closed by routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from fastapi_sentient._sentient import get_sentient

if TYPE_CHECKING:
    import httpx2
    from redis.asyncio import Redis, RedisCluster
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
else:  # the annotations are informative for FastAPI; the extras stay optional
    try:
        from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
    except ImportError:
        AsyncEngine = AsyncSession = Any
    try:
        from redis.asyncio import Redis
    except ImportError:
        Redis = Any

logger = logging.getLogger("fastapi_sentient.pools")

__all__ = ["DbEngine", "DbSession", "RedisClient", "http_client"]


async def _db_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    session = get_sentient(connection).pools.db.session()
    try:
        yield session
        await session.commit()
    except BaseException:
        try:
            await session.rollback()
        except Exception as exc:  # noqa: BLE001  the connection may be the thing that failed
            logger.debug("rollback after a failed request failed: %s", type(exc).__name__)
        raise
    finally:
        # shielded: a client disconnect must not leave the connection checked out
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.shield(session.close())


def _db_engine(connection: HTTPConnection) -> AsyncEngine:
    return get_sentient(connection).pools.db.engine


def _redis_client(connection: HTTPConnection) -> Redis | RedisCluster:
    return get_sentient(connection).pools.redis.client


DbSession = Annotated[AsyncSession, Depends(_db_session, scope="function")]
"""A request-scoped ``AsyncSession``: committed when the route returns, rolled back on error."""

DbEngine = Annotated[AsyncEngine, Depends(_db_engine)]
"""The app's ``AsyncEngine`` (shared; do not dispose of it)."""

RedisClient = Annotated[Redis, Depends(_redis_client)]
"""The app's ``redis.asyncio.Redis`` client (shared; do not close it).

With a ``redis+cluster://`` URL the object is a ``redis.asyncio.RedisCluster``,
which offers the same command methods; the static type stays ``Redis``, so
``cast`` where the difference matters (pipelines, targeting nodes).
"""


def http_client(name: str) -> Any:
    """The pooled ``httpx2.AsyncClient`` named ``name``, as a route dependency.

    ``name`` is a client of ``SENTIENT_HTTP_CLIENTS`` (its requests run under its
    resilience policy) or an LLM provider of ``SENTIENT_LLM_PROVIDERS``.  Use it
    inside ``Annotated`` (or as a parameter default, like ``Depends``)::

        SearchApi = Annotated[httpx2.AsyncClient, http_client("search")]
        OpenAIHttp = Annotated[httpx2.AsyncClient, http_client("openai")]

        async def route(client: OpenAIHttp): ...
    """

    def dependency(connection: HTTPConnection) -> httpx2.AsyncClient:
        return get_sentient(connection).pools.http(name)

    dependency.__name__ = f"http_client_{name}"
    resolve: Callable[[HTTPConnection], httpx2.AsyncClient] = dependency
    return Depends(resolve)
