"""Cluster coordination: membership, leader election with fencing, registry, shared config.

``sentient.cluster`` is a :class:`Coordinator`: a Redis-backed one when
``SENTIENT_REDIS_URL`` is set, otherwise the embedded single-node one (always
leader, epoch 1, members = itself).  See ``docs/cluster.md``.
"""

from __future__ import annotations

from fastapi_sentient.cluster._base import Coordinator
from fastapi_sentient.cluster._errors import (
    ClusterUnavailableError,
    ConfigConflictError,
    LeadershipLostError,
    StaleEpochError,
)
from fastapi_sentient.cluster._events import ClusterEvent
from fastapi_sentient.cluster._fencing import (
    RedisFence,
    create_fence_table,
    fence_sql,
    fence_table_ddl,
    fenced_epoch,
)
from fastapi_sentient.cluster._leadership import Leadership
from fastapi_sentient.cluster._model import ClusterHealth, NodeRecord, ServiceInstance

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
