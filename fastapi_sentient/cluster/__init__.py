"""Cluster coordination: membership, leader election with fencing, registry, shared config.

``sentient.cluster`` is a :class:`Coordinator`: a Redis-backed one when
``SENTIENT_REDIS_URL`` is set, otherwise the embedded single-node one (always
leader, epoch 1, members = itself).  See ``docs/cluster.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi_sentient.cluster.base import Coordinator
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

if TYPE_CHECKING:
    from fastapi_sentient.sentient import Sentient

__all__ = [
    "ClusterEvent",
    "ClusterHealth",
    "ClusterUnavailableError",
    "ConfigConflictError",
    "Coordinator",
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


def build_coordinator(sentient: Sentient) -> Coordinator:
    """The Redis coordinator when ``SENTIENT_REDIS_URL`` is set, else the embedded one."""
    url = sentient.settings.redis_url
    if not url:
        return EmbeddedCoordinator(sentient)
    from fastapi_sentient.cluster.redis_backend import RedisCoordinator

    return RedisCoordinator(sentient, url)


def __getattr__(name: str) -> object:
    # the Redis backend imports redis-py; load it only when asked for
    if name == "RedisCoordinator":
        from fastapi_sentient.cluster.redis_backend import RedisCoordinator

        return RedisCoordinator
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
