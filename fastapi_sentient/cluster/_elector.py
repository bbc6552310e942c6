"""Leader election on a Redis lease, after Kubernetes' client-go elector.

Timing invariants (checked at startup): ``lease_ttl > renew_deadline >
1.2 × retry_period`` and ``cluster_call_timeout < retry_period``.

* Every acquisition uses a fresh random token; renew and release are
  compare-and-set on it (a paused ex-leader can neither extend nor delete a
  lease that another node now holds).  The acquire script issues the next
  fencing epoch, never below an epoch this node has already seen: held by
  others, granted to it, or reported by a fence that rejected one of its
  writes (a fence at epoch N makes this node campaign for N + 1 or more).
* A grant that too few replicas acknowledged is not a term: the node keeps
  its token and retries it (the same epoch, unless that has since been seen
  superseded) until replicas acknowledge it or another node takes over.
* ``t0`` is read on the local monotonic clock *before* each acquire/renew is
  sent.  The server sets the expiry when it runs the script, which is after
  ``t0``, so the lease lasts at least until ``t0 + lease_ttl``; this node
  leads only until ``t0 + renew_deadline``, earlier by the margin
  ``lease_ttl - renew_deadline`` that absorbs clock-rate drift and scheduling.
* At that deadline a timer steps down even if a call hangs; leader tasks are
  cancelled and awaited within the margin.  On shutdown the lease is released
  only after they stopped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi_sentient.cluster._clock import OutageLog, clock, pause
from fastapi_sentient.cluster._errors import ClusterUnavailableError
from fastapi_sentient.cluster._leadership import Leadership
from fastapi_sentient.cluster._store import Store

logger = logging.getLogger("fastapi_sentient.cluster")

JITTER = 1.2


@dataclass(frozen=True, slots=True)
class Timings:
    """Lease timings in seconds."""

    lease: float
    renew_deadline: float
    retry: float
    call_timeout: float = 1.0

    @property
    def margin(self) -> float:
        """Time between this node's deadline and the earliest server-side expiry."""
        return self.lease - self.renew_deadline

    @property
    def shutdown_call(self) -> float:
        """Time limit of a shutdown call (release, leave): no lease depends on it."""
        return max(1.0, 3 * self.call_timeout)


class Elector:
    """Campaigns while following; renews while leading; steps down at the deadline."""

    def __init__(
        self,
        store: Store,
        timings: Timings,
        node_id: Callable[[], str],
        incarnation: Callable[[], str],
        *,
        on_elected: Callable[[Leadership], None],
        on_stopped: Callable[[Leadership, str], Coroutine[Any, Any, bool]],
        on_observed: Callable[[str | None, int], None],
    ) -> None:
        self._store = store
        self.timings = timings
        self._node_id = node_id
        self._incarnation = incarnation
        self._on_elected = on_elected
        self._on_stopped = on_stopped
        self._on_observed = on_observed
        self.leadership: Leadership | None = None
        self.max_epoch_seen = 0
        self.generation: str | None = None
        self._pending_token: str | None = None  # acquire sent, outcome unknown
        self._stale_tokens: list[str] = []  # terms we left without confirming release
        self._timer: asyncio.TimerHandle | None = None
        self._stepping: asyncio.Task[bool] | None = None
        self._wake = asyncio.Event()
        self._lease_left: float | None = None  # of the lease another node held, last seen
        self._log = OutageLog(logger, "cluster leader election")

    # --- state ---------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """Leading and before the local deadline."""
        lead = self.leadership
        return lead is not None and lead.valid

    # --- loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """The election loop (runs until cancelled)."""
        while True:
            if self.leadership is None:
                if self._stepping is not None and not self._stepping.done():
                    await asyncio.shield(self._stepping)
                await self._campaign()
                delay = self._follower_delay()
            else:
                delay = self.timings.retry
            await pause(self._wake, delay)
            if self.leadership is not None:
                await self._renew(self.leadership)

    def wake(self) -> None:
        """Campaign (or renew) now rather than at the next period: the lease was released."""
        self._wake.set()

    def _follower_delay(self) -> float:
        """Until the lease another node holds (or the hold-off) could end, else one retry period.

        Asking again while that lease runs cannot succeed: a release or a new
        election reaches this node through the group's stream, which wakes it
        (:meth:`wake`), so polling every retry period would only multiply the
        calls of a large fleet.
        """
        retry = self.timings.retry
        left, self._lease_left = self._lease_left, None
        if left is None:
            return retry * random.uniform(1.0, JITTER)
        return left + retry * random.uniform(0.0, JITTER - 1.0)

    async def _campaign(self) -> None:
        await self._release_stale()
        token = self._pending_token or secrets.token_hex(16)
        self._pending_token = token
        t0 = clock()
        try:
            reply = await self._store.acquire(
                token, self._node_id(), self._incarnation(), self.max_epoch_seen
            )
        except ClusterUnavailableError as exc:
            self._log.failure(exc)
            return
        self._note_generation(reply.generation)
        if reply.outcome == "unconfirmed":
            # the grant may not survive a failover: not a term; retried with the same token
            self.max_epoch_seen = max(self.max_epoch_seen, reply.epoch)
            self._log.failure(
                ClusterUnavailableError(
                    f"the lease for epoch {reply.epoch} was not acknowledged by "
                    f"{self._store.required_replicas} replica(s); not leading"
                )
            )
            return
        self._log.success()
        self._pending_token = None
        if reply.outcome == "acquired":
            self._become_leader(token, reply.epoch, t0)
        elif reply.outcome == "held":
            self.max_epoch_seen = max(self.max_epoch_seen, reply.epoch)
            self._lease_left = reply.ttl_ms / 1000 if reply.ttl_ms > 0 else None
            self._on_observed(reply.holder, reply.epoch)
        else:  # hold-off: nobody may be elected before it ends
            self._lease_left = reply.ttl_ms / 1000 if reply.ttl_ms > 0 else None
            self._on_observed(None, 0)

    def _become_leader(self, token: str, epoch: int, t0: float) -> None:
        self.max_epoch_seen = max(self.max_epoch_seen, epoch)

        def superseded(seen_epoch: int) -> None:
            self._superseded(lead, seen_epoch)

        lead = Leadership(
            epoch,
            token,
            self._node_id(),
            valid_until=t0 + self.timings.renew_deadline,
            on_superseded=superseded,
        )
        if not lead.valid:  # the reply came back after our own deadline: useless
            self._stale_tokens.append(token)
            return
        self.leadership = lead
        self._arm_timer(lead)
        self._on_elected(lead)
        self._on_observed(lead.node_id, epoch)

    async def _renew(self, lead: Leadership) -> None:
        t0 = clock()
        try:
            renewed = await self._store.renew(lead.token)
        except ClusterUnavailableError as exc:
            self._log.failure(exc)
            if clock() >= lead.valid_until:
                self._begin_step_down(lead, "renew-failed")
            return
        self._log.success()
        if self.leadership is not lead:
            return
        if renewed:
            lead.valid_until = t0 + self.timings.renew_deadline
            self._arm_timer(lead)
        else:
            self._begin_step_down(lead, "preempted")

    # --- stepping down -------------------------------------------------------------------------

    def _arm_timer(self, lead: Leadership) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, lead.valid_until - clock())
        self._timer = asyncio.get_running_loop().call_later(delay, self._deadline, lead)

    def _deadline(self, lead: Leadership) -> None:
        self._timer = None
        if self.leadership is not lead:
            return
        if clock() < lead.valid_until:
            self._arm_timer(lead)
            return
        self._begin_step_down(lead, "renew-deadline")

    def observe_epoch(self, epoch: int) -> None:
        """Never campaign for ``epoch`` or below again (an epoch some resource has seen)."""
        self.max_epoch_seen = max(self.max_epoch_seen, epoch)

    def _superseded(self, lead: Leadership, seen_epoch: int) -> None:
        # a late rejection of an ended term still raises the floor; it ends only its own term
        self.observe_epoch(seen_epoch)
        if self.leadership is lead:
            self._begin_step_down(lead, "superseded")

    def _begin_step_down(self, lead: Leadership, reason: str) -> None:
        """End the term now; leader tasks are stopped on a task of its own.

        The term ends synchronously (``is_leader`` is false before anything
        else runs); stopping the tasks runs on a separate task so that
        cancelling the election loop (shutdown) never interrupts it.
        """
        if self.leadership is not lead:
            return
        self.leadership = None
        lead.end()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if reason != "preempted":
            # the lease may still carry our token; release it once Redis answers
            self._stale_tokens.append(lead.token)
        self._stepping = asyncio.get_running_loop().create_task(
            self._on_stopped(lead, reason), name="sentient:cluster-step-down"
        )
        self._wake.set()

    async def _release_stale(self) -> None:
        while self._stale_tokens:
            try:
                await self._store.release(self._stale_tokens[0])
            except ClusterUnavailableError:
                return
            self._stale_tokens.pop(0)

    def _note_generation(self, generation: str) -> None:
        if self.generation is not None and generation != self.generation:
            logger.warning(
                "the cluster store lost its data (new generation); elections wait one lease"
            )
        self.generation = generation

    # --- shutdown ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Step down (waiting for leader tasks), then release the lease if they stopped."""
        lead = self.leadership
        if lead is not None:
            self._begin_step_down(lead, "shutdown")
        stopped = True
        if self._stepping is not None:
            stopped = await asyncio.shield(self._stepping)
        if not stopped:
            logger.error("not releasing the leader lease: leader tasks are still running")
            return
        if self._pending_token is not None:
            self._stale_tokens.append(self._pending_token)
            self._pending_token = None
        if self._stale_tokens:
            release = asyncio.ensure_future(self._release_all())
            try:
                await asyncio.shield(release)
            except asyncio.CancelledError:
                await release
                raise

    async def _release_all(self) -> None:
        for token in self._stale_tokens:
            try:
                await self._store.release(token, self.timings.shutdown_call)
            except ClusterUnavailableError as exc:
                logger.warning("could not release the leader lease: %s", exc)
                return
        self._stale_tokens.clear()
