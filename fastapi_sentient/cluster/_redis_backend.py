"""The Redis coordinator: the pieces wired to the app's lifespan.

Background loops (all survive Redis outages: they log at a bounded rate and
retry on their period):

* ``cluster-elector``: campaign / renew (see :mod:`.elector`);
* ``cluster-heartbeat``: heartbeat (also right after this node's health
  changes), reap (the leader, or any node while none is known), follow the
  stream and the configuration version, follow the member list;
* ``cluster-watch``: the same stream and configuration read, at once when
  the doorbell rings;
* ``cluster-wakeup``: Pub/Sub doorbell for the watch loop.

Startup announces the node and loads the configuration once (failing startup
if Redis is unreachable and ``SENTIENT_REDIS_REQUIRED`` is true); shutdown
steps down (leader tasks cancelled and awaited), releases the lease, leaves,
and stops the loops.  Every shutdown call has its own time limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Unpack

from fastapi_sentient.cluster._base import Coordinator
from fastapi_sentient.cluster._clock import OutageLog, pause
from fastapi_sentient.cluster._config_watch import ConfigWatcher
from fastapi_sentient.cluster._connection import ClusterConnection, RedisEndpoint
from fastapi_sentient.cluster._elector import Elector, Timings
from fastapi_sentient.cluster._errors import ClusterUnavailableError
from fastapi_sentient.cluster._events import ClusterEvent
from fastapi_sentient.cluster._keys import Keys
from fastapi_sentient.cluster._leadership import Leadership
from fastapi_sentient.cluster._membership import Membership
from fastapi_sentient.cluster._model import ClusterHealth, NodeRecord, ServiceInstance
from fastapi_sentient.cluster._services import ServiceRegistry
from fastapi_sentient.cluster._store import Store, StreamEntry
from fastapi_sentient.cluster._wakeup import listen
from fastapi_sentient.exceptions import StartupError

if TYPE_CHECKING:
    from fastapi_sentient.cluster._base import CoordinatorInputs

logger = logging.getLogger("fastapi_sentient.cluster")


class RedisCoordinator(Coordinator):
    """Cluster coordination on one Redis primary, a Sentinel set or a Redis Cluster."""

    backend = "redis"

    def __init__(
        self,
        *,
        connection: ClusterConnection,
        required: bool = True,
        owns_connection: bool = True,
        **inputs: Unpack[CoordinatorInputs],
    ) -> None:
        """``required``: fail startup when Redis cannot be reached (else keep trying).

        ``owns_connection``: close ``connection`` at shutdown (False when it is
        shared with other coordinators, which its opener then closes).
        """
        super().__init__(**inputs)
        s = self.settings
        self._connection = connection
        self._owns_connection = owns_connection
        self._required = required
        self.endpoint: RedisEndpoint = connection.endpoint
        self.keys = Keys.for_cluster(s.name)
        self.timings = Timings(s.lease_ttl, s.renew_deadline, s.retry_period, s.call_timeout)
        self._tasks: list[asyncio.Task[Any]] = []
        self._helpers: set[asyncio.Task[Any]] = set()
        self._beat = asyncio.Event()
        self._poll = asyncio.Event()
        self._connected = False
        self._closed = False
        self._error: str | None = None
        self._leader_seen: tuple[str | None, int] = (None, 0)
        self._started_at: float | None = None
        self._beat_log = OutageLog(logger, "cluster heartbeat")
        self._watch_log = OutageLog(logger, "cluster config watch")
        self._client: Any = connection.client
        self._store = Store(
            self._client,
            self.keys,
            timeout=s.call_timeout,
            lease_ms=round(s.lease_ttl * 1000),
            node_ttl_ms=round(s.node_ttl * 1000),
            min_replicas=s.min_replicas,
            replica_timeout=s.replica_timeout,
        )
        membership = Membership(self._store, self.events, self._record, s.node_ttl)
        self._membership = membership
        self._elector = Elector(
            self._store,
            self.timings,
            lambda: self.node_id,
            lambda: membership.incarnation,
            on_elected=self._elected,
            on_stopped=self._stopped,
            on_observed=self._observed,
        )
        self._services = ServiceRegistry(
            self._store,
            lambda: self._record(membership.incarnation),
            lambda: membership.incarnation,
            self._health_path,
        )
        self._watcher = ConfigWatcher(
            self._store, self.config, on_entry=self._on_entry, on_reset=self._on_reset
        )
        # a change of this node's health is announced at once, not at the next heartbeat
        self._health.on_change(lambda _name, _old, _new: self._beat.set())

    def _record(self, incarnation: str) -> NodeRecord:
        return self._describe(incarnation, self._started_at)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, announce this node, load the configuration, start the loops."""
        self._started_at = time.time()
        self._closed = False
        membership, elector, watcher = self._membership, self._elector, self._watcher
        self._redact.add(self.endpoint.password)
        try:
            await self._prepare()
            await membership.heartbeat()
            await membership.refresh()
            await watcher.start()
            self._set_connected(True, None)
        except ClusterUnavailableError as exc:
            if self._required:
                await self._close_client()
                msg = f"cluster: cannot reach Redis at {self.endpoint.display}: {exc}"
                raise StartupError(self._redact(msg)) from None
            self._set_connected(False, str(exc))
            logger.warning("cluster: starting without Redis (%s); will keep trying", exc)
        self._metrics.members(membership.live)
        self._register_check()
        spawn = self._lifecycle.spawn
        self._tasks = [
            spawn(elector.run(), "cluster-elector"),
            spawn(self._heartbeat_loop(), "cluster-heartbeat"),
            spawn(self._watch_loop(), "cluster-watch"),
            spawn(
                listen(
                    self._connection.subscriber, self.keys.channel, self._poll, self.timings.retry
                ),
                "cluster-wakeup",
            ),
        ]

    async def stop(self) -> None:
        """Stop the loops, step down and release, leave, close the connections."""
        if self._closed or self._started_at is None:
            return
        self._closed = True
        # loops first: a heartbeat after the leave would announce this node again
        loops = [*self._tasks, *self._helpers]
        for task in loops:
            task.cancel()
        if loops:
            _done, stuck = await asyncio.wait(loops, timeout=1.0 + self.settings.call_timeout)
            for task in stuck:
                logger.error("cluster loop %s did not stop when cancelled", task.get_name())
        self._tasks.clear()
        leading = self._elector.leadership is not None
        await self._elector.close()
        if leading:
            await self._ring()  # the lease is free: followers campaign now
        try:
            await self._membership.leave(self.node_id, self.timings.shutdown_call)
        except ClusterUnavailableError as exc:
            logger.warning("cluster: could not leave cleanly (%s); the reaper will", exc)
        await self.events.aclose()
        await self._close_client()

    async def _prepare(self) -> None:
        if not self._store.prepared:
            await self._store.prepare(max(2.0, 10 * self.settings.call_timeout))

    async def _close_client(self) -> None:
        if self._owns_connection:
            await self._connection.aclose()

    # --- loops ---------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        membership, services, watcher = self._membership, self._services, self._watcher
        interval = self.settings.heartbeat_interval
        counted: list[NodeRecord] | None = None
        while True:
            await pause(self._beat, interval)
            try:
                await self._prepare()
                # the heartbeat's round trip also reads the stream and config version
                joined, polled = await membership.heartbeat(poll_after=watcher.position)
                if joined and services.local:
                    await services.reassert()
                reaped: list[str] = []
                if self.is_leader or self._leader_seen[0] is None:
                    # one reaper is enough: liveness is decided when reading anyway
                    reaped = await membership.reap()
                # stream first: departures keep their recorded reason (a reap's own
                # entries came after the heartbeat's read, so they need a read of their own)
                if polled is None or reaped:
                    await watcher.poll()
                else:
                    await watcher.deliver(polled)
                live = await membership.sync()
            except ClusterUnavailableError as exc:
                self._beat_log.failure(exc)
                self._set_connected(False, str(exc))
                continue
            self._beat_log.success()
            self._set_connected(True, None)
            if live is not counted:
                self._metrics.members(live)
                counted = live

    async def _watch_loop(self) -> None:
        # the heartbeat loop reads the stream every interval; this one only when the
        # doorbell rings, so that news arrives at once without a second periodic read
        watcher, ring = self._watcher, self._poll
        while True:
            await ring.wait()
            ring.clear()
            try:
                await watcher.poll()
            except ClusterUnavailableError as exc:
                self._watch_log.failure(exc)
                continue
            self._watch_log.success()

    def _on_entry(self, entry: StreamEntry) -> None:
        fields = entry.fields
        if fields.get("type") == "released":
            self._elector.wake()  # the lease is free: campaign now, not when it would expire
            return
        if fields.get("type") == "elected":
            # followers learn of a new leader from the stream, woken by the doorbell
            # below, rather than at their next campaign attempt a retry period later
            epoch = int(fields.get("epoch") or 0)
            if epoch > self._leader_seen[1]:
                self._observed(fields.get("node") or None, epoch)
            return
        self._membership.on_stream(entry)

    def _elected(self, leadership: Leadership) -> None:
        self._began_leading(leadership)
        task = asyncio.get_running_loop().create_task(self._ring())
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _ring(self) -> None:
        """Wake every node's watch loop: the stream now holds this election or release."""
        try:
            async with asyncio.timeout(self.settings.call_timeout):
                await self._client.publish(self.keys.channel, "elected")
        except Exception:  # noqa: BLE001  a doorbell only: followers read the stream anyway
            logger.debug("announcing the election failed; followers learn it on their own")

    def _on_reset(self) -> None:
        # the next heartbeat finds this node gone and rejoins under a new incarnation;
        # the member list then reports the lost incarnations as gone
        self._beat.set()

    # --- leadership callbacks -------------------------------------------------------------------

    async def _stopped(self, leadership: Leadership, reason: str) -> bool:
        if self._leader_seen == (self.node_id, leadership.epoch):
            self._leader_seen = (None, leadership.epoch)
        return await self._stop_leading(leadership, reason, self.timings.margin)

    def _observed(self, node: str | None, epoch: int) -> None:
        previous = self._leader_seen
        self._leader_seen = (node, epoch)
        if node is not None and (node, epoch) != previous:
            self._metrics.leader_changes.inc()
            self.events.emit(ClusterEvent("new_leader", node_id=node, epoch=epoch))

    def _set_connected(self, connected: bool, error: str | None) -> None:
        changed = connected != self._connected
        self._connected = connected
        self._error = error
        health = self._health
        if changed and health.started and "cluster" in health.checks:
            task = asyncio.get_running_loop().create_task(health.refresh("cluster"))
            self._helpers.add(task)
            task.add_done_callback(self._helpers.discard)

    # --- public API ------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True only while this node holds the lease and its local deadline has not passed."""
        return self._elector.is_leader

    @property
    def leadership(self) -> Leadership | None:
        """The current term, or None."""
        return self._elector.leadership

    def observe_epoch(self, epoch: int) -> None:
        """Report an epoch a fenced resource has seen: later elections issue greater ones."""
        self._elector.observe_epoch(epoch)

    @property
    def incarnation(self) -> str:
        """This node's current incarnation."""
        return self._membership.incarnation

    async def members(self) -> list[NodeRecord]:
        """Live members, read from Redis now."""
        await self._watcher.poll()
        return await self._membership.refresh()

    async def leader(self) -> NodeRecord | None:
        """The lease holder's record, read from Redis now."""
        found = await self._store.leader()
        if found is None:
            return None
        node, incarnation, _epoch, document, heartbeat = found
        if document:
            return NodeRecord.from_json(document, heartbeat)
        return NodeRecord(node_id=node, incarnation=incarnation, address="", port=None, version="")

    def cluster_health(self) -> ClusterHealth:
        """Counts from the last member list; leader as last observed."""
        live = self._membership.live
        leader = self.node_id if self.is_leader else self._leader_seen[0]
        return ClusterHealth.of(
            self.backend,
            live,
            connected=self._connected,
            leader=leader,
            epoch=self.epoch if self.is_leader else (self._leader_seen[1] or None),
            is_leader=self.is_leader,
            error=self._error,
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
        """Register a service of this node (kept across rejoins; gone when the node dies)."""
        return await self._services.register(
            name,
            port=port,
            address=address,
            version=version,
            health_url=health_url,
            tags=tags,
            metadata=metadata,
            service_id=service_id,
        )

    async def unregister_service(self, service_id: str) -> bool:
        """Withdraw one of this node's services."""
        return await self._services.unregister(service_id)

    async def discover_services(self, name: str) -> list[ServiceInstance]:
        """Instances of ``name`` on live nodes."""
        return await self._services.discover(name)

    async def get_config(self) -> tuple[int, Any]:
        """The current ``(version, data)`` read from Redis."""
        return await self._watcher.get()

    async def set_config(self, data: Any, expected_version: int) -> int:
        """Compare-and-set the shared document (JSON-serialisable ``data``)."""
        return await self._watcher.set(data, expected_version)
