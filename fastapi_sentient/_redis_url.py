"""``SENTIENT_REDIS_URL`` parsed once for everyone who connects to Redis.

The Redis pool (what ``RedisClient`` hands to routes) and the cluster
coordinator both read this URL, and must agree on what it means.  Accepted::

    redis://[[user]:password@]host[:port][/db]            one primary
    rediss://…                                             the same over TLS
    unix://[[user]:password@]/path/to/socket[?db=0]        one primary over a Unix socket
    redis+sentinel://[[user]:password@]h1[:26379][,h2…]/service[/db]
    redis+cluster://[[user]:password@]h1[:6379][,h2…]     Redis Cluster seed nodes
    (rediss+sentinel:// and rediss+cluster:// for TLS)

The password authenticates to the Redis servers; Sentinels are asked for the
primary's address without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from fastapi_sentient._redact import mask_url
from fastapi_sentient.exceptions import ConfigurationError

Kind = Literal["standalone", "sentinel", "cluster"]


@dataclass(frozen=True, slots=True)
class RedisEndpoint:
    """Where Redis is and how to log in."""

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

    A ``standalone`` endpoint keeps only the URL (redis-py parses it); Sentinel
    and Cluster URLs, which redis-py has no URL form for, are split into hosts,
    service, database and credentials.

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
