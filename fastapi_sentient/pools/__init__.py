"""Connection pools bound to the lifespan and injected into routes.

``build_pools`` creates the pools the settings ask for: SQLAlchemy from
``SENTIENT_DATABASE_URL``, Redis from ``SENTIENT_REDIS_URL`` and one HTTP pool per
LLM provider.  See :mod:`fastapi_sentient.pools.base` for the interface a pool
implements and ``docs/pools.md`` for the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi_sentient.pools.base import Pool, PoolMetrics, PoolResizeError, PoolStats
from fastapi_sentient.pools.registry import PoolRegistry

if TYPE_CHECKING:
    from fastapi_sentient.sentient import Sentient

__all__ = [
    "Pool",
    "PoolMetrics",
    "PoolRegistry",
    "PoolResizeError",
    "PoolStats",
    "build_pools",
]


def build_pools(sentient: Sentient) -> PoolRegistry:
    """The pools configured by ``sentient.settings``, registered in opening order."""
    from fastapi_sentient.pools.http import register_http_pools

    registry = PoolRegistry(sentient)
    register_http_pools(sentient, registry)
    return registry
