"""The records the cluster API returns: nodes, service instances, cluster health."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _ms_to_datetime(ms: float | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000.0, UTC)


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One member of the cluster, as it last announced itself.

    ``incarnation`` changes every time the process starts (and when a node that
    was declared dead comes back), so ``(node_id, incarnation)`` names one life
    of a node.  ``status`` is the node's own aggregate health; ``started`` and
    ``last_heartbeat`` are wall-clock times (the heartbeat's from the Redis
    server's clock) for display only: liveness is decided by the store.
    """

    node_id: str
    incarnation: str
    address: str
    port: int | None
    version: str
    roles: tuple[str, ...] = ()
    status: str = "unknown"
    started: datetime | None = None
    last_heartbeat: datetime | None = None

    def to_json(self) -> str:
        """The member document stored in Redis (heartbeat time lives in the sorted set)."""
        return json.dumps(
            {
                "node": self.node_id,
                "inc": self.incarnation,
                "address": self.address,
                "port": self.port,
                "version": self.version,
                "roles": list(self.roles),
                "status": self.status,
                "started": self.started.timestamp() * 1000 if self.started else None,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, heartbeat_ms: float | None = None) -> NodeRecord:
        """Parse a stored member document."""
        raw = json.loads(text)
        return cls(
            node_id=str(raw["node"]),
            incarnation=str(raw["inc"]),
            address=str(raw.get("address") or ""),
            port=raw.get("port"),
            version=str(raw.get("version") or ""),
            roles=tuple(raw.get("roles") or ()),
            status=str(raw.get("status") or "unknown"),
            started=_ms_to_datetime(raw.get("started")),
            last_heartbeat=_ms_to_datetime(heartbeat_ms),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for APIs and health details."""
        return {
            "nodeId": self.node_id,
            "incarnation": self.incarnation,
            "address": self.address,
            "port": self.port,
            "version": self.version,
            "roles": list(self.roles),
            "status": self.status,
            "started": self.started.isoformat() if self.started else None,
            "lastHeartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else None,
        }


@dataclass(frozen=True, slots=True)
class ServiceInstance:
    """A service a node registered; it disappears from discovery when the node dies."""

    id: str
    name: str
    version: str
    address: str
    port: int | None
    health_url: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    node_id: str = ""

    def to_json(self, incarnation: str) -> str:
        """The stored document, bound to one incarnation of the owning node."""
        return json.dumps(
            {
                "id": self.id,
                "name": self.name,
                "version": self.version,
                "address": self.address,
                "port": self.port,
                "health_url": self.health_url,
                "tags": list(self.tags),
                "metadata": self.metadata,
                "node": self.node_id,
                "inc": incarnation,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> ServiceInstance:
        """Parse a stored service document."""
        raw = json.loads(text)
        return cls(
            id=str(raw["id"]),
            name=str(raw["name"]),
            version=str(raw.get("version") or ""),
            address=str(raw.get("address") or ""),
            port=raw.get("port"),
            health_url=raw.get("health_url"),
            tags=tuple(raw.get("tags") or ()),
            metadata={str(k): str(v) for k, v in (raw.get("metadata") or {}).items()},
            node_id=str(raw.get("node") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "address": self.address,
            "port": self.port,
            "healthUrl": self.health_url,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "nodeId": self.node_id,
        }


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    """This node's view of the cluster: backend, member counts by status, the leader."""

    backend: str
    connected: bool
    total: int
    healthy: int
    degraded: int
    unhealthy: int
    leader: str | None
    epoch: int | None
    is_leader: bool
    error: str | None = None

    @classmethod
    def of(
        cls,
        backend: str,
        members: list[NodeRecord],
        *,
        connected: bool,
        leader: str | None,
        epoch: int | None,
        is_leader: bool,
        error: str | None = None,
    ) -> ClusterHealth:
        """Count ``members`` by status."""
        statuses = [m.status for m in members]
        return cls(
            backend=backend,
            connected=connected,
            total=len(members),
            healthy=statuses.count("healthy"),
            degraded=statuses.count("degraded"),
            unhealthy=statuses.count("unhealthy"),
            leader=leader,
            epoch=epoch,
            is_leader=is_leader,
            error=error,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``cluster`` check's details in ``/health``."""
        return {
            "backend": self.backend,
            "connected": self.connected,
            "totalNodes": self.total,
            "healthyNodes": self.healthy,
            "degradedNodes": self.degraded,
            "unhealthyNodes": self.unhealthy,
            "leader": self.leader,
            "epoch": self.epoch,
            "isLeader": self.is_leader,
        }


def default_health_url(address: str, port: int | None, path: str) -> str | None:
    """``http://address:port/health`` when the port is known."""
    return f"http://{address}:{port}{path}" if port else None
