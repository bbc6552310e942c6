"""Drive an ASGI app directly, without sockets: the in-process measurement.

Requests are sent one after another on one event loop, each with a fresh scope
the way uvicorn builds it (including a copy of the lifespan state), so what is
timed is the app's own request path and nothing of a server or a client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.types import ASGIApp, Message

_HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"bench/1"),
    (b"accept", b"*/*"),
]


def http_scope(path: str, state: dict[str, Any], method: str = "GET") -> dict[str, Any]:
    """A fresh HTTP scope, as uvicorn would pass it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": list(_HEADERS),
        "state": state.copy(),
    }


class Driver:
    """Sends requests to a started app and times them."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state

    async def request(self, path: str, method: str = "GET") -> tuple[int, bytes]:
        """One request; its status and body."""
        status = 0
        chunks: list[bytes] = []
        received = False

        async def receive() -> Message:
            nonlocal received
            if received:
                return {"type": "http.disconnect"}
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(http_scope(path, self.state, method), receive, send)
        return status, b"".join(chunks)

    async def timed(self, path: str, count: int) -> tuple[float, float, int]:
        """Wall seconds and process CPU seconds for ``count`` sequential requests,
        and how many of them were not answered 200.

        CPU time counts every thread of the process (telemetry exporters included)
        and none of the time the scheduler gave to other processes, so it stays
        meaningful on a busy machine where wall time does not.
        """
        app = self.app
        state = self.state
        errors = 0
        body_message: Message = {"type": "http.request", "body": b"", "more_body": False}
        disconnect: Message = {"type": "http.disconnect"}
        cpu_started = time.process_time()
        started = time.perf_counter()
        for _ in range(count):
            received = False
            status = 0

            async def receive() -> Message:
                nonlocal received
                if received:
                    return disconnect
                received = True
                return body_message

            async def send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]

            await app(http_scope(path, state), receive, send)
            if status != 200:
                errors += 1
        wall = time.perf_counter() - started
        return wall, time.process_time() - cpu_started, errors


@asynccontextmanager
async def started(app: ASGIApp, timeout: float = 30.0) -> AsyncIterator[Driver]:
    """Run the app's lifespan (with lifespan state, as uvicorn does) around a :class:`Driver`."""
    state: dict[str, Any] = {}
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}

    async def serve() -> None:
        await app(scope, inbox.get, outbox.put)

    task = asyncio.create_task(serve())

    async def phase(name: str) -> None:
        await inbox.put({"type": f"lifespan.{name}"})
        reply = await asyncio.wait_for(outbox.get(), timeout)
        if reply["type"] != f"lifespan.{name}.complete":
            raise RuntimeError(f"lifespan {name} failed: {reply.get('message', '')}")

    await phase("startup")
    try:
        yield Driver(app, state)
    finally:
        await phase("shutdown")
        await asyncio.wait_for(task, timeout)
