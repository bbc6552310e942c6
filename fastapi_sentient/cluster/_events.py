"""Cluster events and their listeners.

Events are local notifications of what this node observed: ``elected`` and
``stopped_leading`` (this node), ``new_leader`` (any node, including this one),
``node_joined`` / ``node_left`` (once per node incarnation), ``config_changed``
(once per applied version).  They are conveniences: the level-triggered state
(``is_leader``, ``members()``, ``get_config()``) is the source of truth.

Listeners may be plain functions (called inline) or coroutine functions (run
one after another on a single task, so their order is the events' order).  A
failing listener is logged and never breaks the coordinator.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

logger = logging.getLogger("fastapi_sentient.cluster")

EventType = Literal[
    "elected", "stopped_leading", "new_leader", "node_joined", "node_left", "config_changed"
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """One observation; fields that do not apply to the event type are None.

    Attributes:
        type: what happened.
        node_id: the node concerned (the new leader, the joining or leaving node).
        incarnation: that node's incarnation, for membership events.
        epoch: the leadership epoch, for leadership events.
        reason: why leadership stopped (``renew-deadline``, ``renew-failed``,
            ``preempted``, ``superseded``, ``shutdown``) or why a node left
            (``shutdown``, ``timeout``, ``replaced``, ``gone``).
        version: the configuration version, for ``config_changed``.
        data: the configuration document, for ``config_changed``.
    """

    type: EventType
    node_id: str | None = None
    incarnation: str | None = None
    epoch: int | None = None
    reason: str | None = None
    version: int | None = None
    data: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the configuration document)."""
        return {
            k: v
            for k, v in (
                ("type", self.type),
                ("nodeId", self.node_id),
                ("incarnation", self.incarnation),
                ("epoch", self.epoch),
                ("reason", self.reason),
                ("version", self.version),
            )
            if v is not None
        }


Listener = Callable[[ClusterEvent], Awaitable[None] | None]
L = TypeVar("L", bound=Listener)


class EventBus:
    """Listeners by event type; async listeners run in order on one task."""

    def __init__(self, listener_timeout: float = 30.0) -> None:
        self._listeners: dict[str, list[Listener]] = {t: [] for t in EVENT_TYPES}
        self._pending: deque[tuple[str, Awaitable[Any]]] = deque()
        self._runner: asyncio.Task[None] | None = None
        self._timeout = listener_timeout

    def add(self, event: str, listener: Listener) -> None:
        """Call ``listener(event)`` for every event of type ``event``."""
        if event not in EVENT_TYPES:
            msg = f"unknown cluster event {event!r}; expected one of {sorted(EVENT_TYPES)}"
            raise ValueError(msg)
        self._listeners[event].append(listener)

    def emit(self, event: ClusterEvent) -> None:
        """Deliver ``event`` to its listeners (never raises)."""
        logger.debug("cluster event %s", event.to_dict())
        for listener in list(self._listeners[event.type]):
            name = getattr(listener, "__qualname__", repr(listener))
            try:
                result = listener(event)
            except Exception:
                logger.exception("cluster %s listener %s failed", event.type, name)
                continue
            if inspect.isawaitable(result):
                self._pending.append((name, result))
        if self._pending and (self._runner is None or self._runner.done()):
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name="sentient:cluster-events"
            )

    async def _run(self) -> None:
        while self._pending:
            name, awaitable = self._pending.popleft()
            try:
                async with asyncio.timeout(self._timeout):
                    await awaitable
            except TimeoutError:
                logger.error("cluster listener %s timed out after %gs", name, self._timeout)
            except Exception:
                logger.exception("cluster listener %s failed", name)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Let queued async listeners finish (bounded), then stop."""
        runner = self._runner
        if runner is None or runner.done():
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(runner)
        except TimeoutError:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        while self._pending:
            _name, awaitable = self._pending.popleft()
            if inspect.iscoroutine(awaitable):
                awaitable.close()
