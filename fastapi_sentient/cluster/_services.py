"""The service registry on Redis: entries live exactly as long as their node's incarnation.

A service document names the node and incarnation that registered it.
Discovery returns it only while that incarnation is live (checked inside the
discovery script against the member set), so a crashed node's services vanish
from discovery as soon as its heartbeat is older than the node TTL, without
waiting for the reaper, which deletes them later.  This node remembers what
it registered and re-announces it after rejoining under a new incarnation.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi_sentient.cluster._model import NodeRecord, ServiceInstance, default_health_url
from fastapi_sentient.cluster._store import Store


class ServiceRegistry:
    """This node's registered services and discovery of everyone's."""

    def __init__(
        self,
        store: Store,
        describe: Callable[[], NodeRecord],
        incarnation: Callable[[], str],
        health_path: str,
    ) -> None:
        self._store = store
        self._describe = describe
        self._incarnation = incarnation
        self._health_path = health_path
        self.local: dict[str, ServiceInstance] = {}

    async def register(
        self,
        name: str,
        *,
        port: int | None,
        address: str | None,
        version: str | None,
        health_url: str | None,
        tags: tuple[str, ...] | list[str],
        metadata: dict[str, str] | None,
        service_id: str | None,
    ) -> ServiceInstance:
        """Store the service, bound to this node's current incarnation."""
        node = self._describe()
        address = address or node.address
        port = port if port is not None else node.port
        instance = ServiceInstance(
            id=service_id or f"{name}@{node.node_id}",
            name=name,
            version=version or node.version,
            address=address,
            port=port,
            health_url=health_url or default_health_url(address, port, self._health_path),
            tags=tuple(tags),
            metadata={str(k): str(v) for k, v in (metadata or {}).items()},
            node_id=node.node_id,
        )
        self.local[instance.id] = instance
        await self._store.put_service(instance.id, instance.to_json(self._incarnation()))
        return instance

    async def unregister(self, service_id: str) -> bool:
        """Delete one of this node's services."""
        known = self.local.pop(service_id, None) is not None
        removed = await self._store.unregister(service_id, self._describe().node_id)
        return known or removed

    async def discover(self, name: str) -> list[ServiceInstance]:
        """Live instances of ``name``, sorted by id."""
        documents = await self._store.discover(name)
        return sorted((ServiceInstance.from_json(d) for d in documents), key=lambda s: s.id)

    async def reassert(self) -> None:
        """Write every local service again (after a rejoin under a new incarnation)."""
        incarnation = self._incarnation()
        for instance in list(self.local.values()):
            await self._store.put_service(instance.id, instance.to_json(incarnation))
