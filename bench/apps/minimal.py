"""Reference floor: the least a pure-ASGI metrics middleware can do.

One counter and one histogram labelled by method, route and status, the route
read from the scope after the app ran.  It serves no probes, tracks nothing for
draining and resolves no ``include_router`` prefixes, so it is a lower bound,
not a competitor.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.apps.common import create_app

registry = CollectorRegistry()
REQUESTS = Counter("requests_total", "Requests.", ("method", "route", "status"), registry=registry)
DURATION = Histogram(
    "request_duration_seconds", "Duration.", ("method", "route", "status"), registry=registry
)


class MinimalMetrics:
    """Counter + histogram, nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def wrapped_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, wrapped_send)
        finally:
            route = scope.get("route")
            label = getattr(route, "path_format", "none")
            code = str(status)
            REQUESTS.labels(scope["method"], label, code).inc()
            DURATION.labels(scope["method"], label, code).observe(time.perf_counter() - started)


app = create_app()
app.add_middleware(MinimalMetrics)
