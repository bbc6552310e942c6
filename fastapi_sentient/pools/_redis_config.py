"""What every Redis pool is configured with, whatever the topology behind the URL.

Shared by the one-primary/Sentinel pool and the Redis Cluster pool, so neither
module imports the other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Self

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_sentient._redis_url import RedisEndpoint, parse_redis_url
from fastapi_sentient.exceptions import NotStartedError
from fastapi_sentient.pools._base import PoolMetrics

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from fastapi_sentient._settings_groups import RedisSettings


class RedisPoolConfig(ABC):
    """What every Redis pool is configured with (``SENTIENT_REDIS_*``)."""

    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        name: str = "redis",
        max_connections: int = 50,
        pool_timeout: float = 5.0,
        socket_timeout: float = 2.0,
        connect_timeout: float = 2.0,
        retries: int = 2,
        warmup: int = 1,
        required: bool = True,
        critical: bool = True,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.endpoint: RedisEndpoint = parse_redis_url(url)
        self.name = name
        self.url = url
        self.required = required
        self.critical = critical
        self.metrics = PoolMetrics(name, self.kind)
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.socket_timeout = socket_timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.warmup = max(0, warmup)
        self.client_options = dict(client_options or {})

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> Self:
        """The pool ``SENTIENT_REDIS_URL`` and the ``SENTIENT_REDIS_*`` settings describe."""
        assert settings.url is not None
        return cls(
            settings.url,
            max_connections=settings.max_connections,
            pool_timeout=settings.pool_timeout,
            socket_timeout=settings.socket_timeout,
            connect_timeout=settings.connect_timeout,
            retries=settings.retries,
            warmup=settings.pool_warmup,
            required=settings.required,
            critical=settings.critical,
        )

    def _retry(self) -> Retry:
        """Bounded retries of connection errors with a short jittered backoff (50 ms to 0.5 s).

        Timeouts are not retried: the server may have run the command, and running
        an ``INCR`` twice is worse than a 503.
        """
        return Retry(
            ExponentialWithJitterBackoff(base=0.05, cap=0.5),
            self.retries,
            supported_errors=(RedisConnectionError,),
        )

    @property
    @abstractmethod
    def client(self) -> Any:
        """The client, once the app has started (each pool class names its type)."""

    def instrument(self, tracer_provider: TracerProvider) -> bool:
        """Command spans from ``opentelemetry-instrumentation-redis`` on this pool's client."""
        from fastapi_sentient.tracing._clients import instrument_redis

        return instrument_redis(self.client, tracer_provider)

    def _not_open(self) -> NotStartedError:
        msg = f"redis pool {self.name!r} is not open; it opens with the app's lifespan"
        return NotStartedError(msg)
