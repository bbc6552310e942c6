"""Connection pools bound to the lifespan and injected into routes.

The wiring creates the pools the settings ask for: SQLAlchemy from
``SENTIENT_DATABASE_URL``, Redis from ``SENTIENT_REDIS_URL`` (one primary and
Sentinel as a ``redis.asyncio.Redis``, Redis Cluster as a ``RedisCluster``), one
HTTP pool per LLM provider and one per named client of ``SENTIENT_HTTP_CLIENTS``.  See :mod:`fastapi_sentient.pools._base` for the
interface a pool implements and ``docs/pools.md`` for the settings.
"""

from __future__ import annotations

from fastapi_sentient.pools._base import (
    Instrumentable,
    Pool,
    PoolMetrics,
    PoolResizeError,
    PoolStats,
    PoolUnavailableError,
)
from fastapi_sentient.pools._registry import PoolRegistry

__all__ = [
    "Instrumentable",
    "Pool",
    "PoolMetrics",
    "PoolRegistry",
    "PoolResizeError",
    "PoolStats",
    "PoolUnavailableError",
]
