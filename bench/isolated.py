"""The metrics middlewares alone: microseconds each adds around a trivial ASGI app.

No FastAPI routing, no event loop, no sockets: each request is one coroutine
stepped to completion, and the app under the middleware only writes the
matched route into the scope (as the router does) and sends a response.  What
is left is the middleware's own work, which the whole-app figures bury under
FastAPI's ~100 µs.  Our middleware is the one ``include_plugin`` builds, taken
from the app's real middleware stack; the reference is ``bench.apps.minimal``'s.

Run as ``python -m bench.isolated``; prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.apps.common import REQUEST_PATH, ROUTE_PATH, create_app
from bench.asgi_driver import http_scope

_START: Message = {"type": "http.response.start", "status": 200, "headers": []}
_BODY: Message = {"type": "http.response.body", "body": b"{}"}
_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


def _trivial(written: dict[str, Any]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope.update(written)
        await send(_START)
        await send(_BODY)

    return app


async def _receive() -> Message:
    return _REQUEST


async def _send(message: Message) -> None:
    return None


def _per_request_us(app: ASGIApp, count: int) -> float:
    scope = http_scope(REQUEST_PATH, {})
    started = time.perf_counter()
    for _ in range(count):
        coroutine = cast("Coroutine[Any, Any, None]", app(dict(scope), _receive, _send))
        try:
            coroutine.send(None)
        except StopIteration:
            pass
        else:
            raise RuntimeError("the isolated app suspended; it must run to completion")
    return (time.perf_counter() - started) / count * 1e6


def _routed(app: ASGIApp) -> dict[str, Any]:
    """What FastAPI's router writes into the scope when it serves the benchmark route."""
    scope = http_scope(REQUEST_PATH, {})
    asyncio.run(cast("Coroutine[Any, Any, None]", app(scope, _receive, _send)))
    written: dict[str, Any] = {
        key: scope[key] for key in ("route", "fastapi", "endpoint") if key in scope
    }
    if getattr(written.get("route"), "path_format", None) is None:
        raise RuntimeError(f"the router wrote no route into the scope: {sorted(scope)}")
    return written


def _apps() -> tuple[dict[str, ASGIApp], Callable[[], float | None]]:
    """The three apps, and how many requests ours has counted under the route's template."""
    from bench.apps.minimal import MinimalMetrics
    from fastapi_sentient import include_plugin

    app = create_app()
    trivial = _trivial(_routed(create_app()))
    registry = include_plugin(app).metrics.registry
    labels = {"method": "GET", "route": ROUTE_PATH, "status_code": "200"}
    ours: Any = app.build_middleware_stack()  # the tracking middleware include_plugin installs
    ours.app = trivial
    apps = {"trivial": trivial, "ours": ours, "minimal": MinimalMetrics(trivial)}
    return apps, lambda: registry.get_sample_value("http_requests_total", labels)


def measure(count: int = 20000, repeats: int = 7) -> dict[str, Any]:
    """Median µs per request of each app over ``repeats`` interleaved batches."""
    apps, counted = _apps()
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for app in apps.values():
        _per_request_us(app, count // 10)  # warm-up: label children and caches exist
    if counted() != count // 10:
        raise RuntimeError(f"our middleware did not record the route's template: {counted()}")
    for index in range(repeats):
        names = list(apps)
        names = names[index % len(names) :] + names[: index % len(names)]
        for name in names:
            samples[name].append(_per_request_us(apps[name], count))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "method": f"{repeats} interleaved batches of {count} requests, each a coroutine stepped "
        "to completion without an event loop; medians",
        "us_per_request": {name: round(value, 2) for name, value in medians.items()},
        "added_us": {
            name: round(value - medians["trivial"], 2)
            for name, value in medians.items()
            if name != "trivial"
        },
    }


def main() -> None:
    print(json.dumps(measure()))


if __name__ == "__main__":
    main()
