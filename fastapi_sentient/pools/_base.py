"""What every connection pool offers: the :class:`Pool` protocol and its statistics.

The interface in one paragraph: a pool is an object with ``name``, ``kind``
(``"db"``, ``"redis"``, ``"http"`` or a kind of the user's own, which becomes the
metric prefix ``<kind>_pool_*``), ``required`` (startup fails when it cannot
open), ``critical`` (its health check gates readiness) and ``url`` (shown masked
in errors and ``/health``), plus a :class:`PoolMetrics` at ``metrics`` into which
it reports acquire times, acquire timeouts and connections created and closed.
It implements ``async open()`` (connect and warm up; may be called again to
reconnect), ``async close()``, ``async ping()`` (one round trip through the pool
itself; raises on failure), ``stats() -> PoolStats`` (no I/O), ``async
recycle()`` (drop every connection so the pool reconnects by itself), ``async
drain() -> int`` (close idle connections, return how many) and ``async
resize(size)`` (change the cap, or raise :class:`PoolResizeError` where the
driver cannot).  The :class:`~fastapi_sentient.pools._registry.PoolRegistry`
opens registered pools in order at startup, gives each one health check and its
metrics, recycles a critical pool that keeps failing, and closes them in reverse.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from fastapi_sentient.exceptions import ConfigurationError, PoolError

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider
    from prometheus_client import Counter, Histogram

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")


class PoolResizeError(PoolError, ValueError):
    """The pool cannot take the requested size (the driver fixes it, or it is invalid)."""


class PoolUnavailableError(PoolError, ConnectionError):
    """The pool's server cannot be reached (answered as 503 ``<kind>_unavailable``)."""

    def __init__(self, message: str, *, pool: str, kind: str) -> None:
        super().__init__(message)
        self.pool = pool
        self.kind = kind


@dataclass(slots=True)
class PoolStats:
    """A snapshot of one pool: sizes, waiters and totals, as metrics and health report them.

    ``size`` counts connections open now (``in_use + idle``) and ``max_size`` the
    cap; ``overflow`` is how many of the open ones exceed the base size (SQLAlchemy's
    ``max_overflow`` connections; 0 for pools without that notion).  ``created``,
    ``closed`` and ``acquire_timeouts`` are totals since the pool was built.
    """

    name: str
    kind: str
    size: int
    max_size: int
    in_use: int
    idle: int
    overflow: int
    waiting: int
    created: int
    closed: int
    acquire_timeouts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, used in ``/health`` details."""
        return asdict(self)


class PoolMetrics:
    """Counters of one pool, exported as ``<kind>_pool_*`` once a registry binds them.

    A pool owns one of these from construction, so it counts even when no registry
    exports it; the registry binds Prometheus instruments at registration and
    replays the totals counted so far.  Every method is synchronous and cheap, so
    drivers can call it from callbacks (SQLAlchemy's pool runs in a greenlet).
    """

    def __init__(self, name: str, kind: str) -> None:
        if not _KIND.match(kind):
            msg = f"pool kind {kind!r} must match [a-z][a-z0-9_]* (it prefixes metric names)"
            raise ConfigurationError(msg)
        self.name = name
        self.kind = kind
        self.created = 0
        self.closed = 0
        self.acquire_timeouts = 0
        self.waiting = 0
        self._acquire: Histogram | None = None
        self._timeouts: Counter | None = None
        self._created: Counter | None = None
        self._closed: Counter | None = None

    def bind(
        self, *, acquire: Histogram, timeouts: Counter, created: Counter, closed: Counter
    ) -> None:
        """Export through these instruments (labelled by pool name) from now on."""
        self._acquire = acquire
        self._timeouts = timeouts
        self._created = created
        self._closed = closed
        for instrument in (acquire, timeouts, created, closed):
            instrument.labels(self.name)  # the series exist (at 0) before the first event
        for counter, total in ((timeouts, self.acquire_timeouts), (created, self.created)):
            if total:
                counter.labels(self.name).inc(total)
        if self.closed:
            closed.labels(self.name).inc(self.closed)

    def observe_acquire(self, seconds: float) -> None:
        """A caller got a connection after waiting ``seconds``."""
        if self._acquire is not None:
            self._acquire.labels(self.name).observe(seconds)

    def timeout(self) -> None:
        """A caller gave up: no connection within the acquire timeout."""
        self.acquire_timeouts += 1
        if self._timeouts is not None:
            self._timeouts.labels(self.name).inc()

    def connection_created(self, count: int = 1) -> None:
        """The pool opened ``count`` new connections."""
        self.created += count
        if self._created is not None:
            self._created.labels(self.name).inc(count)

    def connection_closed(self, count: int = 1) -> None:
        """The pool closed (or lost) ``count`` connections."""
        self.closed += count
        if self._closed is not None:
            self._closed.labels(self.name).inc(count)

    def snapshot(
        self, *, size: int, max_size: int, in_use: int, idle: int, overflow: int = 0
    ) -> PoolStats:
        """The pool's :class:`PoolStats`: the connection counts given, the totals counted here."""
        return PoolStats(
            name=self.name,
            kind=self.kind,
            size=size,
            max_size=max_size,
            in_use=in_use,
            idle=idle,
            overflow=overflow,
            waiting=self.waiting,
            created=self.created,
            closed=self.closed,
            acquire_timeouts=self.acquire_timeouts,
        )

    @contextmanager
    def acquiring(self) -> Iterator[None]:
        """Wrap one acquire: counts the caller as waiting and observes the wait on success."""
        self.waiting += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.waiting -= 1
        self.observe_acquire(time.perf_counter() - started)


@runtime_checkable
class Pool(Protocol):
    """A connection pool whose life the registry binds to the app's lifespan."""

    name: str
    kind: str
    required: bool
    critical: bool
    url: str
    metrics: PoolMetrics

    async def open(self) -> None:
        """Connect and warm up; called again by the registry to reconnect an optional pool."""

    async def close(self) -> None:
        """Close every connection; must not raise."""

    async def ping(self) -> None:
        """One round trip through the pool itself (``SELECT 1``, ``PING``); raises on failure."""

    def stats(self) -> PoolStats:
        """Current statistics, without I/O."""

    async def recycle(self) -> None:
        """Drop every connection so the pool reconnects on its own when the server returns."""

    async def drain(self) -> int:
        """Close idle connections; returns how many were closed."""

    async def resize(self, size: int) -> None:
        """Change the pool's cap; raises :class:`PoolResizeError` where the driver cannot."""


@runtime_checkable
class Instrumentable(Protocol):
    """A pool that can trace its own calls; optional beyond :class:`Pool`.

    The registry calls :meth:`instrument` once the pool is open (its engine or
    client exists) when tracing is on; pools without it are simply not traced.
    """

    def instrument(self, tracer_provider: TracerProvider) -> bool:
        """Make child spans of this pool's calls; False when it cannot (a package is missing)."""
