"""The one in-flight counter shared by metrics and draining.

``http_requests_in_flight`` reads it through a callback (no per-request gauge
update) and the drain waits on it, so the two can never disagree.
"""

from __future__ import annotations

import asyncio


class InFlight:
    """HTTP requests and WebSocket connections being served right now."""

    __slots__ = ("_idle", "count")

    def __init__(self) -> None:
        self.count = 0
        self._idle: asyncio.Event | None = None

    def enter(self) -> None:
        """A request or connection started."""
        self.count += 1

    def exit(self) -> None:
        """A request or connection ended."""
        self.count -= 1
        if self.count == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> int:
        """Wait until nothing is in flight or ``timeout`` passes; return what is left."""
        if self.count <= 0:
            return 0
        self._idle = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                while self.count > 0:
                    self._idle.clear()
                    await self._idle.wait()
        except TimeoutError:
            pass
        finally:
            self._idle = None
        return max(self.count, 0)
