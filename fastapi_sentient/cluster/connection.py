"""The coordinator's own Redis connections: parsed from the URL, retries off, short timeouts.

Coordination must never share the application's pool or its retry policy:
redis-py's defaults (long socket timeouts, several retries) can hold one lease
renewal long after the lease passed to another node, and
may run a non-idempotent script twice.  Here every socket operation is bounded
by ``SENTIENT_CLUSTER_CALL_TIMEOUT`` and a failed call fails once, at once; the
loops decide what to do next.

The URL forms are those of :mod:`fastapi_sentient.redis_url`.
"""

from __future__ import annotations

from typing import Any

from fastapi_sentient.exceptions import MissingDependencyError
from fastapi_sentient.redis_url import RedisEndpoint, parse_redis_url

__all__ = ["RedisEndpoint", "open_client", "parse_redis_url"]


def open_client(
    endpoint: RedisEndpoint,
    *,
    timeout: float | None,
    connect_timeout: float,
    max_connections: int = 8,
) -> Any:
    """A new client for ``endpoint`` with retries off and every socket call bounded.

    ``timeout=None`` leaves reads unbounded (for a Pub/Sub listener, which
    waits for messages by design).
    """
    try:
        from redis.asyncio import Redis, RedisCluster
        from redis.asyncio.cluster import ClusterNode
        from redis.asyncio.retry import Retry
        from redis.asyncio.sentinel import Sentinel
        from redis.backoff import NoBackoff
    except ImportError:  # pragma: no cover - the redis extra is part of the dev install
        package = "redis"
        raise MissingDependencyError(package, "redis") from None

    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": connect_timeout,
        "retry": Retry(NoBackoff(), 0),
        "max_connections": max_connections,
    }
    if endpoint.kind == "standalone":
        return Redis.from_url(endpoint.url, health_check_interval=0, **common)
    auth: dict[str, Any] = {"username": endpoint.username, "password": endpoint.password}
    if endpoint.kind == "cluster":
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in endpoint.hosts],
            ssl=endpoint.ssl,
            **auth,
            **common,
        )
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(endpoint.hosts),
        sentinel_kwargs={
            "socket_timeout": connect_timeout,
            "socket_connect_timeout": connect_timeout,
            "retry": Retry(NoBackoff(), 0),
            "ssl": endpoint.ssl,
        },
    )
    return sentinel.master_for(
        endpoint.service or "mymaster", db=endpoint.db, ssl=endpoint.ssl, **auth, **common
    )
