"""What leader-only code receives, and the runner that starts and stops it.

``@sentient.cluster.leader_task`` functions run only while this node leads.
Each gets a :class:`Leadership` carrying the fencing ``epoch``; it re-checks
``leadership.valid`` right before every side effect and passes the epoch to
fenced resources (a check is not a substitute for fencing: the process can be
paused between the check and the write).  At step-down the tasks are
cancelled and awaited, within the margin between the local deadline and the
server-side lease expiry, before another node can possibly be elected.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from fastapi_sentient.cluster._clock import clock
from fastapi_sentient.cluster._errors import LeadershipLostError

logger = logging.getLogger("fastapi_sentient.cluster")


class Leadership:
    """One term of leadership of this node.

    Attributes:
        epoch: the fencing token: unique to this term and greater than every
            earlier term's (pass it to every fenced write).
        token: the random lease token of this term (with ``epoch``, it lets a
            fenced resource accept retries of the same term and nothing else).
        node_id: this node.
    """

    def __init__(
        self,
        epoch: int,
        token: str,
        node_id: str,
        valid_until: float = math.inf,
        on_superseded: Callable[[int], None] | None = None,
    ) -> None:
        self.epoch = epoch
        self.token = token
        self.node_id = node_id
        self.valid_until = valid_until
        self._on_superseded = on_superseded
        self._lost = asyncio.Event()

    @property
    def valid(self) -> bool:
        """True while this term lasts: not stepped down and the local deadline not passed."""
        return not self._lost.is_set() and clock() < self.valid_until

    def ensure(self) -> None:
        """Raise :class:`LeadershipLostError` unless :attr:`valid`; call before side effects."""
        if not self.valid:
            msg = f"leadership epoch {self.epoch} of {self.node_id} is over"
            raise LeadershipLostError(msg)

    async def wait_lost(self) -> None:
        """Return once this term has ended (useful to stop waiting on slow I/O early)."""
        await self._lost.wait()

    def superseded(self, seen_epoch: int) -> None:
        """Report that a fenced resource has seen ``seen_epoch`` ≥ ours: step down now.

        The fencing helpers call this when they reject a write, so a node whose
        epoch regressed (the store lost its counter) stops and the next election
        issues an epoch above ``seen_epoch``.  A rejection that arrives after the
        term ended (a write queued before a pause) still raises that floor.
        """
        if self._on_superseded is not None:
            self._on_superseded(seen_epoch)

    def end(self) -> None:
        """Mark the term over (the coordinator calls this when it steps down)."""
        self._lost.set()

    def __repr__(self) -> str:
        return f"Leadership(epoch={self.epoch}, node_id={self.node_id!r}, valid={self.valid})"


LeaderFunction = Callable[[Leadership], Awaitable[None]]


class LeaderWork:
    """Runs the leader-only functions for one term at a time; restarts crashed ones."""

    def __init__(self, restart_delay: float) -> None:
        self.functions: list[LeaderFunction] = []
        self._restart_delay = restart_delay
        self._tasks: set[asyncio.Task[None]] = set()
        self._leadership: Leadership | None = None

    @property
    def running(self) -> int:
        """How many leader tasks are alive."""
        return sum(1 for t in self._tasks if not t.done())

    def add(self, function: LeaderFunction) -> None:
        """Register ``function``; started at once if this node leads now."""
        self.functions.append(function)
        if self._leadership is not None and self._leadership.valid:
            self._spawn(function, self._leadership)

    def start(self, leadership: Leadership) -> None:
        """Start every function for ``leadership``'s term."""
        self._leadership = leadership
        for function in self.functions:
            self._spawn(function, leadership)

    def _spawn(self, function: LeaderFunction, leadership: Leadership) -> None:
        name = getattr(function, "__qualname__", "leader_task")
        task = asyncio.get_running_loop().create_task(
            self._supervise(function, leadership, name), name=f"sentient:leader:{name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(self, function: LeaderFunction, leadership: Leadership, name: str) -> None:
        while leadership.valid:
            try:
                await function(leadership)
                return
            except LeadershipLostError:
                return
            except Exception:
                logger.exception(
                    "leader task %s failed; restarting in %gs", name, self._restart_delay
                )
            await asyncio.sleep(self._restart_delay)

    async def stop(self, timeout: float) -> bool:
        """Cancel the current term's tasks and wait up to ``timeout``; True if all stopped."""
        self._leadership = None
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if not tasks:
            return True
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            logger.error("leader task %s ignored cancellation for %gs", task.get_name(), timeout)
        return not pending
