"""The metered transport under every provider's ``httpx2.AsyncClient``.

httpx2 keeps its pool statistics private, and nothing in it measures how long a
request waited for a connection.  So the transport puts a gate in front of
httpx2's own connection pool, with the same capacity: the gate counts callers
waiting and in use, times each acquire, turns an exhausted wait into
``httpx2.PoolTimeout`` (counted), and holds the slot until the response body is
closed — streamed or not.  A request cancelled while waiting or mid-flight
gives its slot back (the leak of encode/httpcore#1093 cannot happen at this
layer).  Connections created are counted from httpcore's ``connect_tcp`` trace
event; connections closed are the created ones no longer alive in the pool.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2

from fastapi_sentient._compat import httpx2 as httpx2_compat
from fastapi_sentient.pools._base import PoolMetrics
from fastapi_sentient.resilience._bulkhead import Gate

Trace = Callable[[str, dict[str, Any]], Awaitable[None]]


class _ReleasingStream(httpx2.AsyncByteStream):
    """The response body; closing it (or failing to read it) frees the gate slot."""

    def __init__(self, inner: httpx2.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._done()

    def _done(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class MeteredTransport(httpx2.AsyncBaseTransport):
    """Wraps ``httpx2.AsyncHTTPTransport`` with the gate and the pool's counters."""

    def __init__(
        self,
        inner: httpx2.AsyncHTTPTransport,
        *,
        name: str,
        capacity: int,
        pool_timeout: float,
        metrics: PoolMetrics,
        variable: str = "SENTIENT_LLM_PROVIDERS",
    ) -> None:
        httpx2_compat.pool_connections(inner)  # an httpx2 without its pool fails at startup
        self.inner = inner
        self.variable = variable
        self.name = name
        self.gate = Gate(capacity)
        self.pool_timeout = pool_timeout
        self.metrics = metrics
        self._ours: Trace = self._trace

    async def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.metrics.connection_created()

    def _chain(self, request: httpx2.Request) -> None:
        theirs = request.extensions.get("trace")
        if theirs is None:
            request.extensions["trace"] = self._ours
            return
        if theirs is self._ours or getattr(theirs, "chained_by", None) is self:
            return  # the same request sent again: already counting

        async def both(event: str, info: dict[str, Any]) -> None:
            await self._trace(event, info)
            await theirs(event, info)

        both.chained_by = self  # type: ignore[attr-defined]
        request.extensions["trace"] = both

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Wait for a slot (timed, counted), send, and hold the slot until the body closes."""
        timeouts = request.extensions.get("timeout") or {}
        wait = timeouts.get("pool", self.pool_timeout)
        self.metrics.waiting += 1
        started = time.perf_counter()
        try:
            await self.gate.acquire(wait)
        except TimeoutError:
            self.metrics.timeout()
            msg = (
                f"HTTP pool {self.name!r} exhausted: no connection within {wait:g}s "
                f"({self.gate.in_use} in use of {self.gate.capacity}); raise max_connections "
                f"in {self.variable} or close responses sooner"
            )
            raise httpx2.PoolTimeout(msg, request=request) from None
        finally:
            self.metrics.waiting -= 1
        self.metrics.observe_acquire(time.perf_counter() - started)
        self._chain(request)
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException:
            self.gate.release()
            self.reconcile()
            raise
        assert isinstance(response.stream, httpx2.AsyncByteStream)

        def release() -> None:
            self.gate.release()
            self.reconcile()

        response.stream = _ReleasingStream(response.stream, release)
        return response

    # --- connection accounting ------------------------------------------------------------

    def connections(self) -> list[Any]:
        """httpcore2's connections in the inner transport's pool."""
        return list(httpx2_compat.pool_connections(self.inner))

    def open_counts(self) -> tuple[int, int]:
        """(open connections, idle connections) right now."""
        alive = [c for c in self.connections() if not _call(c, "is_closed", False)]
        idle = sum(1 for c in alive if _call(c, "is_idle", False))
        return len(alive), idle

    def reconcile(self) -> None:
        """Count as closed every created connection that is no longer alive."""
        alive, _ = self.open_counts()
        gone = self.metrics.created - alive - self.metrics.closed
        if gone > 0:
            self.metrics.connection_closed(gone)

    async def aclose(self) -> None:
        """Close every connection."""
        await self.inner.aclose()
        self.reconcile()


def _call(obj: Any, method: str, default: bool) -> bool:
    try:
        return bool(getattr(obj, method)())
    except Exception:  # noqa: BLE001  private connection objects: a failure reads as the default
        return default
