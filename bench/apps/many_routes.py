"""fastapi_sentient with ``BENCH_ROUTES`` routes, for ``/metrics`` at scale.

Each route that has served one request adds its share of series (request
counter, duration and time-to-first-byte histograms), so the harness grows the
exposition to a chosen size with real requests rather than synthetic samples.
``/library-metrics`` serves the same registry through prometheus_client's own
ASGI app (its OpenMetrics encoder and gzip), the reference the scrape is judged
against.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from prometheus_client import make_asgi_app

from fastapi_sentient import include_plugin


def build(routes: int) -> FastAPI:
    """An app with ``routes`` templated routes ``/r{i}/{item_id}``."""
    app = FastAPI()
    for index in range(routes):

        async def endpoint(item_id: int) -> dict[str, Any]:
            return {"item_id": item_id}

        app.add_api_route(f"/r{index}/{{item_id}}", endpoint, methods=["GET"])
    return app


app = build(int(os.environ.get("BENCH_ROUTES", "0")))
sentient = include_plugin(app)
app.mount("/library-metrics", make_asgi_app(sentient.metrics.registry))
