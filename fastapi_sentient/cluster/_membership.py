"""Membership: heartbeats, the reaper, the member list and join/leave events.

A member is a sorted-set entry scored by the Redis server's ``TIME`` at its
last heartbeat, plus a document (address, port, version, roles, health).
Liveness is decided when reading (score newer than ``node_ttl``), so it never
depends on key expiry or on the reaper's timing; the reaper (the leader every
heartbeat interval, or any node while none is known; atomic) only deletes the
dead and writes one ``node-left`` per departure.

Events: this node emits ``node_joined`` / ``node_left`` once per
``(node, incarnation)`` it observes, from the group's stream and from the full
member list (so a missed message corrects itself).  Reading that list costs
O(N), and N nodes reading it every interval cost Redis O(N²), so the heartbeat
loop reads it once and then follows it: every join, leave and document change
bumps a roster version and records, per node, the version of its last change;
each heartbeat also returns the version and the members past the TTL (usually
none) in O(log N), and the node then reads only the members changed since the
version it holds.
An incarnation that was removed never comes back: a node that finds itself
evicted (it was paused past the TTL, or the store lost its data) takes a new
incarnation before re-announcing itself.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable

from fastapi_sentient.cluster._events import ClusterEvent, EventBus
from fastapi_sentient.cluster._model import NodeRecord
from fastapi_sentient.cluster._store import Polled, Roster, Store, StreamEntry

logger = logging.getLogger("fastapi_sentient.cluster")

_DEPARTED_MEMORY = 4096


def new_incarnation() -> str:
    """A random identifier for one life of a node."""
    return secrets.token_hex(8)


class Membership:
    """This node's presence in the group and its view of the others."""

    def __init__(
        self,
        store: Store,
        events: EventBus,
        describe: Callable[[str], NodeRecord],
        node_ttl: float,
    ) -> None:
        self._store = store
        self._events = events
        self._describe = describe
        self._node_ttl_ms = node_ttl * 1000.0
        self.incarnation = new_incarnation()
        self.registered = False
        self._known: dict[str, str] = {}
        self._departed: set[tuple[str, str]] = set()
        self._departed_order: deque[tuple[str, str]] = deque()
        self.live: list[NodeRecord] = []
        self._records: dict[str, NodeRecord] = {}
        self._version: int | None = None
        self._live_as_of: tuple[int | None, frozenset[str]] | None = None
        self._beat_roster: Roster | None = None  # read by the last heartbeat, not yet followed

    # --- this node ---------------------------------------------------------------------------

    async def heartbeat(self, poll_after: str | None = None) -> tuple[bool, Polled | None]:
        """Announce this node; whether it (re)joined with a new record, and what it polled.

        With ``poll_after`` (the config watcher's stream position) the heartbeat's
        round trip also reads the stream and config version, for the watcher.

        Raises:
            ClusterUnavailableError: Redis did not confirm the heartbeat.
        """
        record = self._describe(self.incarnation)
        beat = await self._store.heartbeat(
            record.node_id,
            self.incarnation,
            record.to_json(),
            must_exist=self.registered,
            poll_after=poll_after,
        )
        if beat.outcome == "evicted":
            old = self.incarnation
            self.incarnation = new_incarnation()
            logger.warning(
                "%s was removed from the cluster (paused past the node TTL, or the store lost "
                "its data); rejoining as incarnation %s (was %s)",
                record.node_id,
                self.incarnation,
                old,
            )
            self.registered = False
            record = self._describe(self.incarnation)
            beat = await self._store.heartbeat(
                record.node_id,
                self.incarnation,
                record.to_json(),
                must_exist=False,
                poll_after=poll_after,
            )
        self._beat_roster = beat.roster
        self.registered = True
        return beat.outcome == "joined", beat.polled

    async def leave(self, node_id: str, timeout: float | None = None) -> bool:
        """Remove this incarnation from the group (graceful shutdown)."""
        left = await self._store.leave(node_id, self.incarnation, timeout)
        self.registered = False
        return left

    # --- the others ----------------------------------------------------------------------------

    async def refresh(self) -> list[NodeRecord]:
        """Read every member, reconcile events, and return the live ones."""
        now, version, entries = await self._store.snapshot()
        present: dict[str, str] = {}
        records: dict[str, NodeRecord] = {}
        live: list[NodeRecord] = []
        for node, heartbeat, document in entries:
            if not document:
                continue
            record = NodeRecord.from_json(document, heartbeat)
            records[node] = record
            present[node] = record.incarnation
            if heartbeat > now - self._node_ttl_ms:
                live.append(record)
        for node, incarnation in present.items():
            self._joined(node, incarnation)
        for node in [n for n in self._known if n not in present]:
            self._left(node, self._known[node], "gone")
        self._records, self._version = records, version
        self.live = sorted(live, key=lambda r: r.node_id)
        self._live_as_of = None
        return self.live

    async def sync(self) -> list[NodeRecord]:
        """The live members, following the roster's changes (the whole list only at first).

        The roster is the one the last heartbeat read, if it was not followed
        yet (saving a round trip per interval), else read now.  A change after
        it is followed at the next interval; its stream event may arrive first.
        """
        roster, self._beat_roster = self._beat_roster, None
        if roster is None:
            roster = await self._store.roster()
        version = self._version
        if version is None or roster.floor > version or roster.version < version:
            await self.refresh()  # first read, fell behind the floor, or the store was reset
        else:
            while roster.version > version:
                changes = await self._store.changes(version)
                if not changes:
                    break
                for node, changed, document, heartbeat in changes:
                    self._apply(node, document, heartbeat)
                    version = max(version, changed)
            self._version = version
        as_of = (self._version, roster.stale)
        if as_of != self._live_as_of:  # rebuilt only when it changed: O(N) per change, not per beat
            records = self._records
            self.live = [records[n] for n in sorted(records) if n not in roster.stale]
            self._live_as_of = as_of
        return self.live

    def _apply(self, node: str, document: str, heartbeat: float | None) -> None:
        if document and heartbeat is not None:
            record = NodeRecord.from_json(document, heartbeat)
            self._records[node] = record
            self._joined(node, record.incarnation)
            return
        self._records.pop(node, None)
        if node in self._known:
            self._left(node, self._known[node], "gone")

    async def reap(self) -> list[str]:
        """Remove dead members (idempotent; any node may run it)."""
        return await self._store.reap()

    def on_stream(self, entry: StreamEntry) -> None:
        """Apply a node-joined / node-left event from the stream."""
        kind = entry.fields.get("type")
        node = entry.fields.get("node", "")
        incarnation = entry.fields.get("inc", "")
        if kind == "node-joined":
            self._joined(node, incarnation)
        elif kind == "node-left":
            self._left(node, incarnation, entry.fields.get("reason", "timeout"))

    # --- exactly-once bookkeeping ------------------------------------------------------------

    def _joined(self, node: str, incarnation: str) -> None:
        if not node or (node, incarnation) in self._departed:
            return
        current = self._known.get(node)
        if current == incarnation:
            return
        if current is not None:
            self._left(node, current, "replaced")
        self._known[node] = incarnation
        self._events.emit(ClusterEvent("node_joined", node_id=node, incarnation=incarnation))

    def _left(self, node: str, incarnation: str, reason: str) -> None:
        key = (node, incarnation)
        if key not in self._departed:
            self._departed.add(key)
            self._departed_order.append(key)
            if len(self._departed_order) > _DEPARTED_MEMORY:
                self._departed.discard(self._departed_order.popleft())
        if self._known.get(node) != incarnation:
            return
        del self._known[node]
        self._events.emit(
            ClusterEvent("node_left", node_id=node, incarnation=incarnation, reason=reason)
        )
