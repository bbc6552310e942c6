"""Concurrency limits: the :class:`Gate` under every pool and call limit, and the bulkhead.

A bulkhead caps how many calls to one dependency run at once in this process, so
a slow dependency holds at most its share of the event loop's work and sockets
and the rest of the service keeps answering.  With ``max_wait`` 0 (the default)
the call beyond the limit is refused at once with :class:`BulkheadFullError`;
a positive ``max_wait`` lets it queue that long (never past the call's deadline).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi_sentient.resilience._errors import BulkheadFullError


class Gate:
    """A resizable FIFO semaphore that counts waiters and hands slots back on cancel."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Callers queued for a slot."""
        return sum(1 for w in self._waiters if not w.done())

    async def acquire(self, timeout: float | None) -> None:
        """Take a slot, waiting at most ``timeout`` seconds (raises ``TimeoutError``)."""
        if self.in_use < self.capacity and not self._waiters:
            self.in_use += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as we gave up: pass it on
            else:
                waiter.cancel()
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Return a slot and wake the next waiter."""
        self.in_use -= 1
        self._wake()

    def resize(self, capacity: int) -> None:
        """Change the capacity; a larger one admits waiters at once."""
        self.capacity = capacity
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_use < self.capacity:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_use += 1
                waiter.set_result(None)


class Bulkhead:
    """At most ``max_concurrent`` calls at once; the next waits ``max_wait`` or is refused."""

    def __init__(
        self,
        name: str,
        max_concurrent: int,
        *,
        max_wait: float = 0.0,
        on_reject: Callable[[], None] | None = None,
    ) -> None:
        if max_concurrent < 1 or max_wait < 0:
            msg = "bulkhead max_concurrent must be >= 1 and max_wait >= 0"
            raise ValueError(msg)
        self.name = name
        self.max_wait = max_wait
        self.gate = Gate(max_concurrent)
        self._on_reject = on_reject

    @property
    def in_use(self) -> int:
        """Calls holding a slot."""
        return self.gate.in_use

    async def acquire(self, deadline: float | None = None) -> None:
        """Take a slot, waiting ``max_wait`` (cut to ``deadline`` seconds) at most."""
        gate = self.gate
        if gate.in_use < gate.capacity and not gate.waiting:
            gate.in_use += 1
            return
        wait = self.max_wait if deadline is None else min(self.max_wait, max(deadline, 0.0))
        if wait <= 0:
            self._reject()
        try:
            await gate.acquire(wait)
        except TimeoutError:
            self._reject()

    def release(self) -> None:
        """Give the slot back."""
        self.gate.release()

    @asynccontextmanager
    async def slot(self, deadline: float | None = None) -> AsyncIterator[None]:
        """Hold a slot for the block."""
        await self.acquire(deadline)
        try:
            yield
        finally:
            self.release()

    def _reject(self) -> None:
        if self._on_reject is not None:
            self._on_reject()
        msg = (
            f"{self.name}: {self.gate.in_use} calls already in flight "
            f"(limit {self.gate.capacity}); refused"
        )
        raise BulkheadFullError(msg) from None
