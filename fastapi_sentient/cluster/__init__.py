"""Cluster coordination: membership, leader election with fencing, registry, shared config.

``sentient.cluster`` is a :class:`Coordinator`: a Redis-backed one when
``SENTIENT_REDIS_URL`` is set, otherwise the embedded single-node one (always
leader, epoch 1, members = itself).  See ``docs/cluster.md``.
"""

from __future__ import annotations

from fastapi_sentient.cluster.base import Coordinator
from fastapi_sentient.cluster.errors import (
    ClusterUnavailableError,
    ConfigConflictError,
    LeadershipLostError,
    StaleEpochError,
)
from fastapi_sentient.cluster.events import ClusterEvent
from fastapi_sentient.cluster.fencing import (
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
    "Leadership",
    "LeadershipLostError",
    "NodeRecord",
    "RedisFence",
    "ServiceInstance",
    "StaleEpochError",
    "create_fence_table",
    "fence_sql",
    "fence_table_ddl",
    "fenced_epoch",
]
