"""``/metrics`` scrape time and size with about 1k and 10k series.

The series are real: an app with enough routes is served one request per
route, so every series is one our middleware created.  Scrapes are timed from
the client's side (connect to last byte), as Prometheus would see them, in
plain text and in the form Prometheus asks for (OpenMetrics, gzip).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from bench.procs import Uvicorn, fetch, running
from bench.stats import median, percentile, rounded

Log = Callable[[str], None]

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
FORMATS = {
    "text": {"Accept-Encoding": "identity"},
    "openmetrics_gzip": {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"},
}


def count_series(exposition: bytes) -> int:
    """Sample lines (everything but comments and the OpenMetrics EOF marker)."""
    return sum(
        1 for line in exposition.splitlines() if line and not line.startswith((b"#", b"# EOF"))
    )


def _calibrate() -> tuple[int, float]:
    """Series of an app with no routes, and series added per served route."""
    from bench.apps.many_routes import build
    from bench.asgi_driver import started
    from fastapi_sentient import include_plugin
    from fastapi_sentient.metrics.exposition import render

    async def series(routes: int) -> int:
        app = build(routes)
        sentient = include_plugin(app)
        async with started(app) as driver:
            for index in range(routes):
                await driver.request(f"/r{index}/1")
            body, _ = render(sentient.metrics, "", "")
        return count_series(body)

    quiet = logging.getLogger("fastapi_sentient")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # a busy machine's CPU check would log here, not in the app
    try:
        base = asyncio.run(series(0))
        per_route = (asyncio.run(series(4)) - base) / 4
    finally:
        quiet.setLevel(level)
    return base, per_route


def run(targets: list[int], scrapes: int, log: Log) -> dict[str, Any]:
    """The ``metrics_scale`` section of the results."""
    base, per_route = _calibrate()
    results: dict[str, Any] = {
        "method": "single-worker uvicorn, fastapi_sentient default install with N routes each "
        f"served once; {scrapes} scrapes per format on fresh connections, timed connect→last byte",
        "series_per_route": per_route,
        "sizes": [],
    }
    for target in targets:
        routes = max(1, math.ceil((target - base) / per_route))
        server = Uvicorn(
            f"uvicorn-metrics-{target}", "bench.apps.many_routes:app", {"BENCH_ROUTES": str(routes)}
        )
        with running(server.start()):
            server.wait_ready("/ready", timeout=120)
            for index in range(routes):
                fetch(server.port, f"/r{index}/1")
            entry: dict[str, Any] = {"target_series": target, "routes": routes}
            for name, headers in FORMATS.items():
                times: list[float] = []
                got: dict[str, str] = {}
                body = b""
                for _ in range(scrapes):
                    started = time.perf_counter()
                    status, got, body = fetch(server.port, "/metrics", headers, timeout=30)
                    times.append((time.perf_counter() - started) * 1e3)
                    if status != 200:
                        raise RuntimeError(f"/metrics answered {status}")
                plain = gzip.decompress(body) if got.get("content-encoding") == "gzip" else body
                entry[name] = {
                    "series": count_series(plain),
                    "bytes": len(body),
                    "uncompressed_bytes": len(plain),
                    "content_type": got.get("content-type"),
                    "median_ms": rounded(median(times), 2),
                    "p90_ms": rounded(percentile(times, 90), 2),
                    "max_ms": rounded(max(times), 2),
                }
            results["sizes"].append(entry)
            log(
                f"  {entry['text']['series']} series: text {entry['text']['median_ms']} ms, "
                f"{entry['text']['bytes']} B"
            )
    return results
