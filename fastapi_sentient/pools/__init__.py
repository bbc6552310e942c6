"""Connection pools bound to the lifespan and injected into routes.

``build_pools`` creates the pools the settings ask for: SQLAlchemy from
``SENTIENT_DATABASE_URL``, Redis from ``SENTIENT_REDIS_URL`` (one primary and
Sentinel as a ``redis.asyncio.Redis``, Redis Cluster as a ``RedisCluster``), one
HTTP pool per LLM provider and one per named client of ``SENTIENT_HTTP_CLIENTS``.  See :mod:`fastapi_sentient.pools.base` for the
interface a pool implements and ``docs/pools.md`` for the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi_sentient.exceptions import MissingDependencyError
from fastapi_sentient.pools.base import (
    Pool,
    PoolMetrics,
    PoolResizeError,
    PoolStats,
    PoolUnavailableError,
)
from fastapi_sentient.pools.errors import install_error_handlers
from fastapi_sentient.pools.registry import PoolRegistry
from fastapi_sentient.redis_url import parse_redis_url

if TYPE_CHECKING:
    from fastapi_sentient.sentient import Sentient

__all__ = [
    "Pool",
    "PoolMetrics",
    "PoolRegistry",
    "PoolResizeError",
    "PoolStats",
    "PoolUnavailableError",
    "build_pools",
]


def build_pools(sentient: Sentient) -> PoolRegistry:
    """The pools configured by ``sentient.settings``, registered in opening order."""
    settings = sentient.settings
    registry = PoolRegistry(sentient)
    if settings.database_url:
        try:
            from fastapi_sentient.pools.database import DatabasePool
        except ImportError as exc:
            package, extra = "sqlalchemy", "db"
            raise MissingDependencyError(package, extra) from exc
        sentient.redact.add_url(settings.database_url)
        registry.register(DatabasePool.from_settings(settings))
    if settings.redis_url:
        endpoint = parse_redis_url(settings.redis_url)
        sentient.redact.add_url(settings.redis_url)
        sentient.redact.add(endpoint.password)
        try:
            from fastapi_sentient.pools.redis import redis_pool_from_settings
        except ImportError as exc:
            package, extra = "redis", "redis"
            raise MissingDependencyError(package, extra) from exc
        registry.register(redis_pool_from_settings(settings))
    if settings.llm_providers:
        try:
            from fastapi_sentient.pools.http import register_http_pools
        except ImportError as exc:
            package, extra = "httpx2", "llm"
            raise MissingDependencyError(package, extra) from exc
        register_http_pools(sentient, registry)
    if settings.http_clients:
        try:
            from fastapi_sentient.resilience.http import register_http_clients
        except ImportError as exc:
            package, extra = "httpx2", "http"
            raise MissingDependencyError(package, extra) from exc
        register_http_clients(sentient, registry)
    install_error_handlers(sentient, database="db" in registry, redis="redis" in registry)
    return registry
