"""The single-node coordinator used when no Redis is configured.

It keeps the whole cluster API in memory: this node is always the leader
(epoch 1) from startup to shutdown, the only member, the only service host and
the only config writer.  ``make run`` therefore needs nothing, and code that
uses ``leader_task``, ``set_config`` or ``discover_services`` works the same
when the service later runs as a fleet on Redis.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Unpack

from fastapi_sentient.cluster._base import Coordinator
from fastapi_sentient.cluster._errors import ConfigConflictError
from fastapi_sentient.cluster._events import ClusterEvent
from fastapi_sentient.cluster._leadership import Leadership
from fastapi_sentient.cluster._model import (
    ClusterHealth,
    NodeRecord,
    ServiceInstance,
    default_health_url,
)

if TYPE_CHECKING:
    from fastapi_sentient.cluster._base import CoordinatorInputs


class EmbeddedCoordinator(Coordinator):
    """Always leader, epoch 1, members = itself."""

    backend = "embedded"

    def __init__(self, *, shutdown_timeout: float, **inputs: Unpack[CoordinatorInputs]) -> None:
        """``shutdown_timeout`` bounds the wait for leader tasks at shutdown."""
        super().__init__(**inputs)
        self._shutdown_timeout = shutdown_timeout
        self.incarnation = secrets.token_hex(8)
        self._leadership: Leadership | None = None
        self._started: datetime | None = None
        self._services: dict[str, ServiceInstance] = {}
        self._config_version = 0
        self._config_data: Any = None

    @property
    def is_leader(self) -> bool:
        """True between startup and shutdown."""
        return self._leadership is not None and self._leadership.valid

    @property
    def leadership(self) -> Leadership | None:
        """The single term, from startup to shutdown."""
        return self._leadership

    def observe_epoch(self, epoch: int) -> None:
        """Ignored: the one term (epoch 1) lasts from startup to shutdown."""

    async def start(self) -> None:
        """Become the one member and the leader."""
        self._started = datetime.now(UTC)
        self._register_check()
        self._metrics.members([self._record()])
        self.events.emit(
            ClusterEvent("node_joined", node_id=self.node_id, incarnation=self.incarnation)
        )
        self._leadership = Leadership(1, secrets.token_hex(16), self.node_id)
        self._began_leading(self._leadership)
        self.events.emit(ClusterEvent("new_leader", node_id=self.node_id, epoch=1))

    async def stop(self) -> None:
        """Stop leader tasks, then leave."""
        lead, self._leadership = self._leadership, None
        if lead is not None:
            await self._stop_leading(lead, "shutdown", self._shutdown_timeout)
        self.events.emit(
            ClusterEvent(
                "node_left", node_id=self.node_id, incarnation=self.incarnation, reason="shutdown"
            )
        )
        await self.events.aclose()

    def _record(self) -> NodeRecord:
        started = self._started.timestamp() if self._started else None
        record = self._describe(self.incarnation, started)
        return dataclasses.replace(record, last_heartbeat=datetime.now(UTC))

    async def members(self) -> list[NodeRecord]:
        """Just this node."""
        return [self._record()]

    async def leader(self) -> NodeRecord | None:
        """This node while it runs."""
        return self._record() if self.is_leader else None

    def cluster_health(self) -> ClusterHealth:
        """One node, leading."""
        record = self._record()
        self._metrics.members([record])
        return ClusterHealth.of(
            self.backend,
            [record],
            connected=True,
            leader=self.node_id if self.is_leader else None,
            epoch=self.epoch,
            is_leader=self.is_leader,
        )

    async def register_service(
        self,
        name: str,
        *,
        port: int | None = None,
        address: str | None = None,
        version: str | None = None,
        health_url: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        metadata: dict[str, str] | None = None,
        service_id: str | None = None,
    ) -> ServiceInstance:
        """Keep the service in memory."""
        record = self._record()
        port = port if port is not None else record.port
        address = address or record.address
        instance = ServiceInstance(
            id=service_id or f"{name}@{self.node_id}",
            name=name,
            version=version or self.identity.version,
            address=address,
            port=port,
            health_url=health_url or default_health_url(address, port, self._health_path),
            tags=tuple(tags),
            metadata=dict(metadata or {}),
            node_id=self.node_id,
        )
        self._services[instance.id] = instance
        return instance

    async def unregister_service(self, service_id: str) -> bool:
        """Forget the service."""
        return self._services.pop(service_id, None) is not None

    async def discover_services(self, name: str) -> list[ServiceInstance]:
        """Registered instances of ``name``."""
        return [s for s in self._services.values() if s.name == name]

    async def get_config(self) -> tuple[int, Any]:
        """The in-memory document."""
        return self._config_version, _copy(self._config_data)

    async def set_config(self, data: Any, expected_version: int) -> int:
        """Compare-and-set in memory (atomic: no await between compare and set)."""
        if expected_version != self._config_version:
            raise ConfigConflictError(expected_version, self._config_version)
        text = json.dumps(data)  # the same JSON-only contract as the Redis backend
        self._config_version += 1
        self._config_data = json.loads(text)
        await self.config.apply(self._config_version, _copy(self._config_data))
        return self._config_version


def _copy(data: Any) -> Any:
    return None if data is None else json.loads(json.dumps(data))
