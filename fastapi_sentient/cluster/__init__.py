"""Cluster coordination: membership, leader election with fencing, registry, shared config.

``sentient.cluster`` is a :class:`Coordinator`: a Redis-backed one when
``SENTIENT_REDIS_URL`` is set, otherwise the embedded single-node one (always
leader, epoch 1, members = itself).  See ``docs/cluster.md``.
"""

from __future__ import annotations

from typing import Unpack

from fastapi_sentient.cluster.base import Coordinator, CoordinatorInputs
from fastapi_sentient.cluster.embedded import EmbeddedCoordinator
from fastapi_sentient.cluster.errors import (
    ClusterUnavailableError,
    ConfigConflictError,
    LeadershipLostError,
    StaleEpochError,
)
from fastapi_sentient.cluster.events import ClusterEvent
from fastapi_sentient.cluster.fencing import (
    FencedScript,
    RedisFence,
    create_fence_table,
    fence_sql,
    fence_table_ddl,
    fenced_epoch,
)
from fastapi_sentient.cluster.leadership import Leadership
from fastapi_sentient.cluster.model import ClusterHealth, NodeRecord, ServiceInstance

__all__ = [
    "ClusterEvent",
    "ClusterHealth",
    "ClusterUnavailableError",
    "ConfigConflictError",
    "Coordinator",
    "CoordinatorInputs",
    "EmbeddedCoordinator",
    "FencedScript",
    "Leadership",
    "LeadershipLostError",
    "NodeRecord",
    "RedisCoordinator",
    "RedisFence",
    "ServiceInstance",
    "StaleEpochError",
    "build_coordinator",
    "create_fence_table",
    "fence_sql",
    "fence_table_ddl",
    "fenced_epoch",
]


def build_coordinator(
    *,
    redis_url: str | None,
    redis_required: bool,
    shutdown_timeout: float,
    **inputs: Unpack[CoordinatorInputs],
) -> Coordinator:
    """The Redis coordinator when ``SENTIENT_REDIS_URL`` is set, else the embedded one.

    The Redis one opens its own connection (see :mod:`.connection`) and closes
    it at shutdown.
    """
    if not redis_url:
        return EmbeddedCoordinator(shutdown_timeout=shutdown_timeout, **inputs)
    from fastapi_sentient.cluster.connection import ClusterConnection
    from fastapi_sentient.cluster.redis_backend import RedisCoordinator

    connection = ClusterConnection.from_url(redis_url, call_timeout=inputs["cluster"].call_timeout)
    return RedisCoordinator(connection=connection, required=redis_required, **inputs)


def __getattr__(name: str) -> object:
    # the Redis backend imports redis-py; load it only when asked for
    if name == "RedisCoordinator":
        from fastapi_sentient.cluster.redis_backend import RedisCoordinator

        return RedisCoordinator
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
