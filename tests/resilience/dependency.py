"""A fake tool dependency (a search API, a vector database): real HTTP on 127.0.0.1.

A small Starlette app served by uvicorn in a thread.  It counts every request
(and when it arrived), and answers from a script of statuses, one per request,
then from a default status; it can stall each request (a hanging dependency)
and add a ``Retry-After`` to its 429s.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.procs import free_port, wait_until


class FakeDependency:
    """One scriptable HTTP dependency on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.Lock()
        self.reset()
        app = Starlette(
            routes=[
                Route("/healthz", self._health, methods=["GET"]),
                Route("/{path:path}", self._answer, methods=["GET", "POST"]),
            ]
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        """The root URL."""
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Healthy answers, no delay, zero counts."""
        with self._lock:
            self.times: list[float] = []
            self.paths: list[str] = []
            self.headers: list[dict[str, str]] = []
            self.health_requests = 0
        self.status = 200
        self.script: deque[int] = deque()
        self.retry_after: str | None = None
        self.delay = 0.0

    @property
    def requests(self) -> int:
        """Requests received so far (health probes apart)."""
        with self._lock:
            return len(self.times)

    def start(self) -> FakeDependency:
        """Serve until :meth:`stop`."""
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=10.0, what="fake dependency start")
        return self

    def stop(self) -> None:
        """Stop serving (a stalled request is abandoned)."""
        self._server.should_exit = True
        self._thread.join(timeout=5.0)

    async def _health(self, request: Request) -> Response:
        with self._lock:
            self.health_requests += 1
        return JSONResponse({"status": "ok"})

    async def _answer(self, request: Request) -> Response:
        with self._lock:
            self.times.append(time.monotonic())
            self.paths.append(request.url.path)
            self.headers.append(dict(request.headers))
            status = self.script.popleft() if self.script else self.status
        if self.delay:
            await asyncio.sleep(self.delay)
        headers = {"Retry-After": self.retry_after} if status == 429 and self.retry_after else {}
        return JSONResponse(
            {"status": status, "hits": ["doc-1"]}, status_code=status, headers=headers
        )
