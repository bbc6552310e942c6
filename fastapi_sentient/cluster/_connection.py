"""The coordinator's own Redis connections: parsed from the URL, retries off, short timeouts.

Coordination must never share the application's pool or its retry policy:
redis-py's defaults (long socket timeouts, several retries) can hold one lease
renewal long after the lease passed to another node, and
may run a non-idempotent script twice.  Here every socket operation is bounded
by ``SENTIENT_CLUSTER_CALL_TIMEOUT`` and a failed call fails once, at once; the
loops decide what to do next.

The URL forms are those of :mod:`fastapi_sentient._redis_url`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi_sentient._redis_url import RedisEndpoint, parse_redis_url
from fastapi_sentient.exceptions import MissingDependencyError

__all__ = ["ClusterConnection", "RedisEndpoint", "open_client", "parse_redis_url"]

logger = logging.getLogger("fastapi_sentient.cluster")


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


class ClusterConnection:
    """The coordinator's way to one Redis deployment: a command client and Pub/Sub clients.

    One per process in a service (the coordinator opens it from the URL and
    closes it at shutdown).  Coordinators may share one; then whoever opened
    it closes it.
    """

    def __init__(self, endpoint: RedisEndpoint, *, call_timeout: float) -> None:
        self.endpoint = endpoint
        self.call_timeout = call_timeout
        # nothing connects yet: clients connect on their first command
        self.client: Any = open_client(endpoint, timeout=call_timeout, connect_timeout=call_timeout)

    @classmethod
    def from_url(cls, url: str, *, call_timeout: float) -> ClusterConnection:
        """A connection to the Redis ``url`` names, every call bounded by ``call_timeout``."""
        return cls(parse_redis_url(url), call_timeout=call_timeout)

    def subscriber(self) -> Any:
        """A new client for one Pub/Sub subscription (reads wait for messages unbounded)."""
        return open_client(
            self.endpoint, timeout=None, connect_timeout=self.call_timeout, max_connections=2
        )

    async def aclose(self) -> None:
        """Close the command client's connections (bounded; never raises)."""
        try:
            async with asyncio.timeout(self.call_timeout):
                await self.client.aclose()
        except Exception:
            logger.debug("closing the cluster Redis client failed", exc_info=True)
