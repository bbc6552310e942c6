"""The coordinator's own Redis connections: parsed from the URL, retries off, short timeouts.

Coordination must never share the application's pool or its retry policy:
redis-py's defaults (5 s socket timeout, up to ten retries) can hold one lease
renewal for most of a minute, long after the lease passed to another node, and
may run a non-idempotent script twice.  Here every socket operation is bounded
by ``SENTIENT_CLUSTER_CALL_TIMEOUT`` and a failed call fails once, at once; the
loops decide what to do next.

Accepted URLs::

    redis://[[user]:password@]host[:port][/db]            one primary
    rediss://…                                             the same over TLS
    redis+sentinel://[[user]:password@]h1[:26379][,h2…]/service[/db]
    redis+cluster://[[user]:password@]h1[:6379][,h2…]     Redis Cluster seed nodes
    (rediss+sentinel:// and rediss+cluster:// for TLS)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from fastapi_sentient.exceptions import ConfigurationError, MissingDependencyError
from fastapi_sentient.redact import mask_url

Kind = Literal["standalone", "sentinel", "cluster"]


@dataclass(frozen=True, slots=True)
class RedisEndpoint:
    """Where the coordination store is and how to log in."""

    kind: Kind
    url: str
    hosts: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False

    @property
    def display(self) -> str:
        """The URL with its password masked, for logs and errors."""
        return mask_url(self.url)


def parse_redis_url(url: str) -> RedisEndpoint:
    """Parse ``SENTIENT_REDIS_URL``.

    Raises:
        ConfigurationError: unknown scheme, missing host or Sentinel service name.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        msg = f"SENTIENT_REDIS_URL={mask_url(url)!r}: expected scheme://host, e.g. redis://localhost:6379/0"
        raise ConfigurationError(msg)
    scheme = scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        return RedisEndpoint("standalone", url, ssl=scheme == "rediss")
    base, plus, kind = scheme.partition("+")
    if not plus or base not in ("redis", "rediss") or kind not in ("sentinel", "cluster"):
        msg = (
            f"SENTIENT_REDIS_URL scheme {scheme!r} is not supported; use redis://, rediss://, "
            "redis+sentinel:// or redis+cluster://"
        )
        raise ConfigurationError(msg)
    userinfo, at, location = rest.rpartition("@")
    if not at:
        userinfo, location = "", rest
    netloc, _, path = location.partition("/")
    path = path.split("?", 1)[0]
    default_port = 26379 if kind == "sentinel" else 6379
    hosts = tuple(_host_port(part, default_port, url) for part in netloc.split(",") if part)
    if not hosts:
        msg = f"SENTIENT_REDIS_URL={mask_url(url)!r}: no host given"
        raise ConfigurationError(msg)
    username, _, password = userinfo.partition(":")
    parts = [p for p in path.split("/") if p]
    service: str | None = None
    db = 0
    if kind == "sentinel":
        if not parts:
            msg = f"SENTIENT_REDIS_URL={mask_url(url)!r}: name the Sentinel service, e.g. redis+sentinel://host:26379/mymaster"
            raise ConfigurationError(msg)
        service = unquote(parts[0])
        parts = parts[1:]
    if parts:
        if not parts[0].isdigit():
            msg = f"SENTIENT_REDIS_URL={mask_url(url)!r}: database must be a number"
            raise ConfigurationError(msg)
        db = int(parts[0])
    return RedisEndpoint(
        kind,  # type: ignore[arg-type]
        url,
        hosts=hosts,
        service=service,
        db=db,
        username=unquote(username) or None,
        password=unquote(password) or None,
        ssl=base == "rediss",
    )


def _host_port(part: str, default: int, url: str) -> tuple[str, int]:
    if part.startswith("["):  # [ipv6]:port
        host, _, tail = part[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = part.rpartition(":") if ":" in part else (part, "", "")
    if port_text and not port_text.isdigit():
        msg = f"SENTIENT_REDIS_URL={mask_url(url)!r}: bad port in {part!r}"
        raise ConfigurationError(msg)
    return host, int(port_text) if port_text else default


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
