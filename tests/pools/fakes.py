"""A user-defined pool for registry tests: a real object whose server can be "down"."""

from __future__ import annotations

from fastapi_sentient.pools import PoolMetrics, PoolResizeError, PoolStats


class ServerDown(ConnectionError):
    """The fake server refuses connections."""


class ToyPool:
    """Connections are integers; ``up`` says whether the pretend server answers."""

    def __init__(
        self,
        name: str = "toy",
        *,
        kind: str = "toy",
        required: bool = True,
        critical: bool = True,
        url: str = "toy://user:hunter22@127.0.0.1:1/",
        up: bool = True,
        size: int = 2,
        events: list[str] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.required = required
        self.critical = critical
        self.url = url
        self.up = up
        self.size = size
        self.metrics = PoolMetrics(name, kind)
        self.open_connections = 0
        self.opens = 0
        self.recycles = 0
        self.events = events if events is not None else []

    async def open(self) -> None:
        self.opens += 1
        if not self.up:
            msg = f"connection refused by {self.url}\nsecond line"
            raise ServerDown(msg)
        if self.open_connections == 0:
            self.open_connections = 1
            self.metrics.connection_created()
        self.events.append(f"open:{self.name}")

    async def close(self) -> None:
        self.metrics.connection_closed(self.open_connections)
        self.open_connections = 0
        self.events.append(f"close:{self.name}")

    async def ping(self) -> None:
        if not self.up:
            msg = "server down"
            raise ServerDown(msg)

    def stats(self) -> PoolStats:
        m = self.metrics
        return PoolStats(
            name=self.name,
            kind=self.kind,
            size=self.open_connections,
            max_size=self.size,
            in_use=0,
            idle=self.open_connections,
            overflow=0,
            waiting=m.waiting,
            created=m.created,
            closed=m.closed,
            acquire_timeouts=m.acquire_timeouts,
        )

    async def recycle(self) -> None:
        self.recycles += 1
        await self.drain()

    async def drain(self) -> int:
        closed, self.open_connections = self.open_connections, 0
        self.metrics.connection_closed(closed)
        return closed

    async def resize(self, size: int) -> None:
        if size < 1:
            msg = "size must be positive"
            raise PoolResizeError(msg)
        self.size = size
