"""Typed calls of the coordination scripts, each bounded by the call timeout.

Every failure (refused, reset, timed out, a cluster redirect that cannot be
followed, a read-only replica after failover) becomes one
:class:`ClusterUnavailableError` with the password masked; callers treat them
alike: "the store did not confirm this step".

Durability: an acquisition or renewal counts only once ``required_replicas``
replicas acknowledged it (``WAIT`` on the connection that ran the script, in
one pipeline), so a term that a failover could lose never starts.  Before
every acquire and heartbeat the primary's replication id is read and handed to
the script, which compares it with the one recorded next to the data: a
promoted replica has another, so the loss of the primary's last writes is
noticed even though the replica kept the ``boot`` marker.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from fastapi_sentient._redact import mask_url
from fastapi_sentient.cluster import _scripts as scripts
from fastapi_sentient.cluster._clock import raise_if_cancelling
from fastapi_sentient.cluster._errors import ClusterUnavailableError
from fastapi_sentient.cluster._keys import Keys

logger = logging.getLogger("fastapi_sentient.cluster")

STREAM_MAXLEN = 10_000
REAP_LIMIT = 100
ROSTER_STALE_LIMIT = 1000
CHANGES_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Roster:
    """What the member list's readers check every heartbeat."""

    version: int
    floor: int
    stale: frozenset[str]


@dataclass(frozen=True, slots=True)
class AcquireReply:
    """Outcome of one election attempt."""

    #: ``unconfirmed``: the script granted the lease but too few replicas acknowledged it
    outcome: Literal["acquired", "unconfirmed", "held", "holdoff"]
    generation: str
    epoch: int = 0
    holder: str | None = None
    holder_incarnation: str | None = None
    ttl_ms: int = 0


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One event of the group's stream."""

    id: str
    fields: dict[str, str]


#: Stream entries one poll reads at most; a full page means there may be more.
POLL_COUNT = 500


@dataclass(frozen=True)
class Polled:
    """One read of the stream and config version, after a stream position."""

    generation: str
    version: int
    entries: list[StreamEntry]


class Beat(NamedTuple):
    """What a heartbeat returns; ``polled`` when it was asked to poll as well."""

    outcome: str
    generation: str
    roster: Roster
    polled: Polled | None = None


class Store:
    """The coordination scripts of one cluster group on one client."""

    def __init__(
        self,
        client: Any,
        keys: Keys,
        *,
        timeout: float,
        lease_ms: int,
        node_ttl_ms: int,
        maxlen: int = STREAM_MAXLEN,
        min_replicas: int | None = None,
        replica_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.timeout = timeout
        self.lease_ms = lease_ms
        self.node_ttl_ms = node_ttl_ms
        self.maxlen = maxlen
        self.prepared = False
        #: replicas that must acknowledge a lease write; None: 1 once a replica was seen
        self.min_replicas = min_replicas
        self.replica_timeout = replica_timeout if replica_timeout is not None else timeout / 2
        self.replicas_seen = False
        self.info_refused = False
        self._cluster = hasattr(client, "nodes_manager")
        self._scripts = {
            name: client.register_script(getattr(scripts, name))
            for name in (
                "ACQUIRE",
                "RENEW",
                "RELEASE",
                "LEADER",
                "HEARTBEAT",
                "REAP",
                "LEAVE",
                "LIST",
                "ROSTER",
                "CHANGES",
                "UNREGISTER",
                "DISCOVER",
                "SET_CONFIG",
                "GET_CONFIG",
                "WATCH_START",
                "POLL",
            )
        }

    async def prepare(self, timeout: float) -> None:
        """Learn the cluster layout and load every script, under a startup-sized limit.

        Without it the first calls would spend their short call timeout on
        discovering slots and on ``NOSCRIPT`` round trips.  One ``SCRIPT EXISTS``
        asks for all of them: in a fleet every node after the first finds them
        loaded, so a rolling start of hundreds of replicas costs one round trip
        each instead of one per script.

        Raises:
            ClusterUnavailableError: Redis did not answer within ``timeout``.
        """

        async def load() -> None:
            if self._cluster:
                await self.client.initialize()
            scripts = list(self._scripts.values())
            loaded = await self.client.script_exists(*(script.sha for script in scripts))
            for script, present in zip(scripts, loaded, strict=True):
                if not present:
                    await self.client.script_load(script.script)
            await self._find_replicas()

        await self._guarded("SCRIPT LOAD", load, timeout)
        self.prepared = True

    async def _run(
        self,
        name: str,
        keys: Sequence[str],
        args: Sequence[Any] = (),
        timeout: float | None = None,
    ) -> Any:
        script = self._scripts[name]
        return await self._guarded(name, lambda: script(keys=list(keys), args=list(args)), timeout)

    async def _guarded(
        self, label: str, call: Callable[[], Awaitable[Any]], timeout: float | None = None
    ) -> Any:
        """Run ``call`` within the call timeout; every failure is one ClusterUnavailableError."""
        limit = timeout or self.timeout
        try:
            async with asyncio.timeout(limit):
                return await call()
        except TimeoutError:
            raise_if_cancelling()
            msg = f"Redis did not answer {label} within {limit:g}s"
            raise ClusterUnavailableError(msg) from None
        except Exception as exc:  # noqa: BLE001  a client failure of any kind is an outage
            raise_if_cancelling()
            text = mask_url(f"{type(exc).__name__}: {exc}")
            msg = f"Redis {label} failed: {text}"
            raise ClusterUnavailableError(msg) from None

    # --- replication --------------------------------------------------------------------------

    @property
    def required_replicas(self) -> int:
        """Acknowledgements a lease write needs now (the setting, else 1 once replicas were seen)."""
        if self.min_replicas is not None:
            return self.min_replicas
        return 1 if self.replicas_seen else 0

    def _slot_node(self) -> Any:
        return self.client.get_node_from_key(self.keys.leader)

    async def _find_replicas(self) -> None:
        """Note replicas the topology knows even while they are disconnected (Sentinel, Cluster)."""
        await self.replication_id()
        pool = getattr(self.client, "connection_pool", None)
        manager = getattr(pool, "sentinel_manager", None)
        if manager is not None:
            for sentinel in manager.sentinels:
                try:
                    known = await sentinel.sentinel_slaves(pool.service_name)  # type: ignore[union-attr]
                except Exception:  # noqa: BLE001  a Sentinel that does not answer: ask the next
                    continue
                self.replicas_seen = self.replicas_seen or bool(known)
                break
        if self._cluster:
            slot = self.client.keyslot(self.keys.leader)
            holders = self.client.nodes_manager.slots_cache.get(slot, [])
            self.replicas_seen = self.replicas_seen or len(holders) > 1

    async def replication_id(self) -> str:
        """The primary's ``master_replid`` (noting whether replicas are attached to it).

        Empty when the server refuses ``INFO`` (some managed services rename
        it): promotions then go unnoticed, which :attr:`info_refused` records.
        """
        from redis.exceptions import ResponseError

        async def call() -> Any:
            try:
                if self._cluster:
                    return await self.client.info("replication", target_nodes=self._slot_node())
                return await self.client.info("replication")
            except ResponseError:
                return None

        info = await self._guarded("INFO", call)
        if info is None:
            if not self.info_refused:
                logger.warning(
                    "Redis refuses INFO: a promoted replica cannot be detected; "
                    "rely on SENTIENT_CLUSTER_MIN_REPLICAS and fencing"
                )
            self.info_refused = True
            return ""
        if int(info.get("connected_slaves", 0) or 0) > 0:
            self.replicas_seen = True
        return str(info.get("master_replid", "") or "")

    async def _run_durable(
        self, name: str, keys: Sequence[str], args: Sequence[Any]
    ) -> tuple[Any, int, int]:
        """Run a script, then ``WAIT`` on the same connection: (reply, acks, acks needed)."""
        needed = self.required_replicas
        if needed == 0:
            return await self._run(name, keys, args), 0, 0
        wait_ms = max(1, round(self.replica_timeout * 1000))
        body = getattr(scripts, name)

        async def call() -> tuple[Any, int]:
            # WAIT must reach the connection (on Cluster, the node) that ran the script
            if self._cluster:
                pipe, target = self.client.pipeline(), {"target_nodes": self._slot_node()}
            else:
                pipe, target = self.client.pipeline(transaction=False), {}
            pipe.execute_command("EVAL", body, len(keys), *keys, *args)
            pipe.execute_command("WAIT", needed, wait_ms, **target)
            reply, acks = await pipe.execute()
            return reply, int(acks)

        reply, acks = await self._guarded(name, call)
        return reply, acks, needed

    # --- leader lease -------------------------------------------------------------------------

    async def acquire(
        self, token: str, node: str, incarnation: str, min_epoch: int
    ) -> AcquireReply:
        """Try to take the lease (or refresh it, if ``token`` already holds it)."""
        k = self.keys
        replid = await self.replication_id()
        reply, acks, needed = await self._run_durable(
            "ACQUIRE",
            (k.leader, k.epoch, k.boot, k.holdoff, k.events, k.replid, k.roster),
            (
                token,
                node,
                incarnation,
                self.lease_ms,
                min_epoch,
                _generation(),
                self.maxlen,
                replid,
            ),
        )
        outcome, generation = str(reply[0]), str(reply[1])
        if outcome == "acquired":
            if acks < needed:
                return AcquireReply("unconfirmed", generation, epoch=int(reply[2]))
            return AcquireReply("acquired", generation, epoch=int(reply[2]))
        if outcome == "holdoff":
            return AcquireReply("holdoff", generation, ttl_ms=int(reply[2]))
        return AcquireReply(
            "held",
            generation,
            epoch=int(reply[2]),
            holder=str(reply[3]) or None,
            holder_incarnation=str(reply[4]) or None,
            ttl_ms=int(reply[5]),
        )

    async def renew(self, token: str) -> bool:
        """Extend the lease if ``token`` still holds it.

        Raises:
            ClusterUnavailableError: also when too few replicas acknowledged the renewal.
        """
        reply, acks, needed = await self._run_durable(
            "RENEW", (self.keys.leader,), (token, self.lease_ms)
        )
        renewed = int(reply) == 1
        if renewed and acks < needed:
            msg = (
                f"Redis RENEW was acknowledged by {acks} of {needed} replica(s) "
                f"within {self.replica_timeout:g}s"
            )
            raise ClusterUnavailableError(msg)
        return renewed

    async def release(self, token: str, timeout: float | None = None) -> bool:
        """Delete the lease if ``token`` still holds it."""
        k = self.keys
        reply = await self._run("RELEASE", (k.leader, k.events), (token, self.maxlen), timeout)
        return int(reply) == 1

    async def leader(self) -> tuple[str, str, int, str, float | None] | None:
        """(node, incarnation, epoch, member document, heartbeat ms) of the lease holder."""
        k = self.keys
        reply = await self._run("LEADER", (k.leader, k.nodes, k.members))
        if not reply:
            return None
        heartbeat = float(reply[4]) if reply[4] else None
        return str(reply[0]), str(reply[1]), int(reply[2]), str(reply[3]), heartbeat

    # --- membership ---------------------------------------------------------------------------

    async def heartbeat(
        self,
        node: str,
        incarnation: str,
        document: str,
        *,
        must_exist: bool,
        poll_after: str | None = None,
    ) -> Beat:
        """Announce this node; returns the outcome, store generation and roster as of then.

        The outcome is ``joined`` (new incarnation recorded), ``ok`` or ``evicted``
        (``must_exist`` and the record was gone or belongs to another incarnation).
        With ``poll_after`` the same round trip reads what :meth:`poll` would: the
        stream entries after that position and the config version.
        """
        k = self.keys
        replid = await self.replication_id()
        reply = await self._run(
            "HEARTBEAT",
            (
                k.members,
                k.nodes,
                k.boot,
                k.holdoff,
                k.events,
                k.services,
                k.roster,
                k.replid,
                k.epoch,
                k.leader,
                k.changes,
                k.config,
            ),
            (
                node,
                incarnation,
                document,
                "1" if must_exist else "0",
                _generation(),
                self.lease_ms,
                self.maxlen,
                replid,
                self.node_ttl_ms,
                ROSTER_STALE_LIMIT,
                poll_after or "",
                POLL_COUNT,
            ),
        )
        roster = Roster(int(reply[3]), int(reply[4]), frozenset(str(x) for x in reply[5]))
        polled = None
        if poll_after is not None:
            polled = Polled(str(reply[1]), int(reply[6]), _entries(reply[7]))
        return Beat(str(reply[0]), str(reply[1]), roster, polled)

    async def reap(self) -> list[str]:
        """Remove members whose last heartbeat is older than the node TTL."""
        k = self.keys
        reply = await self._run(
            "REAP",
            (k.members, k.nodes, k.services, k.events, k.roster, k.changes),
            (self.node_ttl_ms, REAP_LIMIT, self.maxlen),
        )
        return [str(x) for x in reply]

    async def leave(self, node: str, incarnation: str, timeout: float | None = None) -> bool:
        """Remove this incarnation's record and services now."""
        k = self.keys
        reply = await self._run(
            "LEAVE",
            (k.members, k.nodes, k.services, k.events, k.roster, k.changes),
            (node, incarnation, self.maxlen),
            timeout,
        )
        return int(reply) == 1

    async def list_members(self) -> tuple[float, list[tuple[str, float, str]]]:
        """Server time (ms) and every stored member: (node, heartbeat ms, document)."""
        now, _version, entries = await self.snapshot()
        return now, entries

    async def snapshot(self) -> tuple[float, int, list[tuple[str, float, str]]]:
        """Server time (ms), the roster version they are as of, and every stored member."""
        k = self.keys
        reply = await self._run("LIST", (k.members, k.nodes, k.roster))
        now = float(reply[0])
        rest = reply[2:]
        entries = [
            (str(rest[i]), float(rest[i + 1]), str(rest[i + 2])) for i in range(0, len(rest), 3)
        ]
        return now, int(reply[1]), entries

    async def roster(self) -> Roster:
        """The roster version and floor, and the members past the node TTL."""
        k = self.keys
        reply = await self._run(
            "ROSTER", (k.members, k.roster), (self.node_ttl_ms, ROSTER_STALE_LIMIT)
        )
        return Roster(int(reply[0]), int(reply[1]), frozenset(str(x) for x in reply[2]))

    async def changes(self, since: int) -> list[tuple[str, int, str, float | None]]:
        """Members changed after roster version ``since``: (node, version, doc, heartbeat ms).

        A departed node has an empty document.  At most ``CHANGES_LIMIT`` are
        returned, oldest first; the caller asks again from the last version.
        """
        k = self.keys
        reply = await self._run("CHANGES", (k.changes, k.nodes, k.members), (since, CHANGES_LIMIT))
        return [
            (
                str(reply[i]),
                int(float(reply[i + 1])),
                str(reply[i + 2]),
                float(reply[i + 3]) if reply[i + 3] else None,
            )
            for i in range(0, len(reply), 4)
        ]

    # --- services -------------------------------------------------------------------------------

    async def put_service(self, service_id: str, document: str) -> None:
        """Store a service document."""
        await self._guarded(
            "HSET", lambda: self.client.hset(self.keys.services, service_id, document)
        )

    async def unregister(self, service_id: str, node: str) -> bool:
        """Delete a service document owned by ``node``."""
        reply = await self._run("UNREGISTER", (self.keys.services,), (service_id, node))
        return int(reply) == 1

    async def discover(self, name: str) -> list[str]:
        """Documents of ``name`` owned by live incarnations."""
        k = self.keys
        reply = await self._run(
            "DISCOVER", (k.services, k.members, k.nodes), (name, self.node_ttl_ms)
        )
        return [str(x) for x in reply]

    # --- configuration ------------------------------------------------------------------------

    async def set_config(self, expected: int, document: str) -> tuple[bool, int]:
        """Compare-and-set; returns (won, version now current)."""
        k = self.keys
        reply = await self._run(
            "SET_CONFIG", (k.config, k.events), (expected, document, k.channel, self.maxlen)
        )
        return str(reply[0]) == "ok", int(reply[1])

    async def get_config(self) -> tuple[str, int, str]:
        """(store generation, version, JSON document or '')."""
        k = self.keys
        reply = await self._run("GET_CONFIG", (k.config, k.boot))
        return str(reply[0]), int(reply[1]), str(reply[2])

    async def watch_start(self) -> tuple[str, str, int, str]:
        """(last stream id, generation, version, document) read atomically."""
        k = self.keys
        reply = await self._run("WATCH_START", (k.events, k.config, k.boot))
        return str(reply[0]), str(reply[1]), int(reply[2]), str(reply[3])

    async def poll(self, after: str, count: int = POLL_COUNT) -> Polled:
        """The generation, config version and stream entries after ``after``."""
        k = self.keys
        reply = await self._run("POLL", (k.events, k.config, k.boot), (after, count))
        return Polled(str(reply[0]), int(reply[1]), _entries(reply[2]))


def _entries(items: Sequence[Any] | None) -> list[StreamEntry]:
    return [StreamEntry(str(item[0]), _pairs(item[1])) for item in (items or [])]


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _generation() -> str:
    # fresh per call: a wiped store must never be re-marked with a generation seen before
    return secrets.token_hex(8)
