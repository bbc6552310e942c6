"""The pools the settings ask for, registered in the order they open.

Each kind is imported only when configured, so a service without a database never
imports SQLAlchemy, and a configured kind whose extra is missing stops startup
with the extra's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fastapi_sentient._redis_url import parse_redis_url
from fastapi_sentient.exceptions import MissingDependencyError

if TYPE_CHECKING:
    from fastapi_sentient._redact import Redactor
    from fastapi_sentient._settings_groups import DatabaseSettings, LLMSettings, RedisSettings
    from fastapi_sentient.pools._registry import PoolRegistry
    from fastapi_sentient.resilience._registry import ResilienceRegistry
    from fastapi_sentient.settings import HttpClientSettings


def build_pools(
    registry: PoolRegistry,
    *,
    database: DatabaseSettings,
    redis: RedisSettings,
    llm: LLMSettings,
    http_clients: Mapping[str, HttpClientSettings],
    resilience: ResilienceRegistry,
    redactor: Redactor,
) -> PoolRegistry:
    """Register the configured pools into ``registry``, in opening order.

    The database, then Redis, then one HTTP pool per LLM provider and per named
    client of ``SENTIENT_HTTP_CLIENTS``.  ``resilience`` gives the named clients
    their policies (so it is built first); ``redactor`` learns every password and
    key the pools are built with.
    """
    if database.url:
        try:
            from fastapi_sentient.pools._database import DatabasePool
        except ImportError as exc:
            package, extra = "sqlalchemy", "db"
            raise MissingDependencyError(package, extra) from exc
        redactor.add_url(database.url)
        registry.register(DatabasePool.from_settings(database))
    if redis.url:
        endpoint = parse_redis_url(redis.url)
        redactor.add_url(redis.url)
        redactor.add(endpoint.password)
        try:
            from fastapi_sentient.pools._redis import redis_pool_from_settings
        except ImportError as exc:
            package, extra = "redis", "redis"
            raise MissingDependencyError(package, extra) from exc
        registry.register(redis_pool_from_settings(redis))
    if llm.providers:
        try:
            from fastapi_sentient.pools._http import register_http_pools
        except ImportError as exc:
            package, extra = "httpx2", "llm"
            raise MissingDependencyError(package, extra) from exc
        register_http_pools(llm, registry=registry, redactor=redactor)
    if http_clients:
        try:
            from fastapi_sentient.resilience._http import register_http_clients
        except ImportError as exc:
            package, extra = "httpx2", "http"
            raise MissingDependencyError(package, extra) from exc
        register_http_clients(
            http_clients, registry=registry, resilience=resilience, redactor=redactor
        )
    return registry
