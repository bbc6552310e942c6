"""The configuration version this node has applied, and the callbacks it feeds.

Both backends funnel every observed version through :meth:`AppliedConfig.apply`,
which keeps the promise of ``on_config_change``: callbacks fire once per new
version, in increasing order, never for a version at or below one already
applied (a node that missed updates jumps straight to the latest).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi_sentient.cluster._events import ClusterEvent, EventBus

logger = logging.getLogger("fastapi_sentient.cluster")

ConfigCallback = Callable[[int, Any], Awaitable[None] | None]
C = TypeVar("C", bound=ConfigCallback)


class AppliedConfig:
    """The latest applied ``(version, data)`` and the callbacks to run on a new one."""

    def __init__(self, events: EventBus, callback_timeout: float = 30.0) -> None:
        self.version = 0
        self.data: Any = None
        self.callbacks: list[ConfigCallback] = []
        self._events = events
        self._timeout = callback_timeout
        self._lock = asyncio.Lock()

    async def apply(self, version: int, data: Any) -> bool:
        """Adopt ``version`` if it is newer and run the callbacks; True if it was applied."""
        async with self._lock:
            if version <= self.version:
                return False
            self.version = version
            self.data = data
            for callback in list(self.callbacks):
                await self._run(callback, version, data)
            self._events.emit(ClusterEvent("config_changed", version=version, data=data))
            return True

    def reset(self) -> None:
        """Forget the applied version because the store lost its data (versions restart)."""
        self.version = 0

    async def _run(self, callback: ConfigCallback, version: int, data: Any) -> None:
        name = getattr(callback, "__qualname__", repr(callback))
        try:
            result = callback(version, data)
            if inspect.isawaitable(result):
                async with asyncio.timeout(self._timeout):
                    await result
        except TimeoutError:
            logger.error("config callback %s timed out after %gs", name, self._timeout)
        except Exception:
            logger.exception("config callback %s failed for version %d", name, version)
