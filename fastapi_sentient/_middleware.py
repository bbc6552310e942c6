"""The request-tracking middleware: pure ASGI, outermost, cheap.

One class does three jobs because they share one clock and one counter: it
serves our own endpoints (probes and ``/metrics``) before anything else can get
in their way, it keeps the in-flight count that draining waits on, and it
records the HTTP metrics.  Per-request state lives in locals and one closure;
``self`` holds configuration only.

Duration ends at the last response body chunk, so background tasks that run
after the response are not billed to the route.  An exception from the app
counts as a 500 when no response was started; the exception itself propagates
untouched — this middleware never turns a request into an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_sentient._inflight import InFlight
from fastapi_sentient._route_label import UNMATCHED, RouteIndex, method_label, route_template
from fastapi_sentient.metrics._http import HttpMetrics

logger = logging.getLogger("fastapi_sentient.middleware")

_CONNECTION_CLOSE = (b"connection", b"close")


class DrainFlag(Protocol):
    """Anything that says whether the process is draining (the lifecycle)."""

    @property
    def is_draining(self) -> bool: ...


class RequestTrackingMiddleware:
    """Serves our endpoints, counts in-flight work and records HTTP metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        inflight: InFlight,
        drain: DrainFlag,
        endpoints: Mapping[str, ASGIApp] | None = None,
        excluded: frozenset[str] = frozenset(),
        http_metrics: HttpMetrics | None = None,
        mounts: Callable[[], RouteIndex] | None = None,
        startup_error: Callable[[], str | None] | None = None,
    ) -> None:
        self.app = app
        self.inflight = inflight
        self.drain = drain
        self.endpoints = dict(endpoints or {})
        self.excluded = excluded
        self.http_metrics = http_metrics
        self.mounts = mounts or (lambda: RouteIndex(None))
        self.startup_error = startup_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type == "http":
            path = scope["path"]
            endpoint = self.endpoints.get(path)
            if endpoint is None:
                # behind a proxy prefix our paths, and the excluded ones, are relative to it
                root_path = scope.get("root_path")
                if root_path:
                    path = path.removeprefix(root_path)
                    endpoint = self.endpoints.get(path)
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
            record = self.http_metrics is not None and path not in self.excluded
            await self._http(scope, receive, send, record)
        elif scope_type == "websocket":
            self.inflight.enter()
            try:
                await self.app(scope, receive, send)
            finally:
                self.inflight.exit()
        elif scope_type == "lifespan" and self.startup_error is not None:
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette reports a failed startup with the whole traceback, which uvicorn
        # logs; for our own failures (a required pool, a startup task) the operator
        # needs the one line that names what failed.
        startup_error = self.startup_error
        assert startup_error is not None

        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                reason = startup_error()
                if reason is not None:
                    message = {**message, "message": reason}
            await send(message)

        await self.app(scope, receive, lifespan_send)

    async def _http(self, scope: Scope, receive: Receive, send: Send, record: bool) -> None:
        started = time.perf_counter()
        entry_root_path = scope.get("root_path", "")
        status = 0
        first_byte: float | None = None
        finished: float | None = None
        drain = self.drain

        async def tracking_send(message: Message) -> None:
            nonlocal status, first_byte, finished
            message_type = message["type"]
            if message_type == "http.response.start":
                status = message["status"]
                first_byte = time.perf_counter()
                if drain.is_draining:
                    message["headers"] = [*message.get("headers", ()), _CONNECTION_CLOSE]
            elif message_type == "http.response.body" and not message.get("more_body", False):
                await send(message)
                finished = time.perf_counter()
                return
            await send(message)

        self.inflight.enter()
        try:
            await self.app(scope, receive, tracking_send)
        except BaseException:
            if status == 0:
                status = 500
            raise
        finally:
            self.inflight.exit()
            if record:
                try:
                    self._record(
                        scope, entry_root_path, status or 500, started, first_byte, finished
                    )
                except Exception:  # never let bookkeeping fail a request
                    logger.exception("recording HTTP metrics failed")

    def _record(
        self,
        scope: Scope,
        entry_root_path: str,
        status: int,
        started: float,
        first_byte: float | None,
        finished: float | None,
        exemplar: dict[str, str] | None = None,
    ) -> None:
        # ``exemplar`` is filled by the tracing subclass only, so a plain install
        # pays nothing for it on the request path.
        metrics = self.http_metrics
        assert metrics is not None
        route = route_template(scope, entry_root_path, self.mounts()) or UNMATCHED
        end = finished if finished is not None else time.perf_counter()
        metrics.record(
            method_label(scope["method"]),
            route,
            status,
            end - started,
            None if first_byte is None else first_byte - started,
            exemplar,
        )
