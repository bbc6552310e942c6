"""``/metrics`` scrape time and size with about 1k and 10k series.

The series are real: an app with enough routes is served one request per
route, so every series is one our middleware created.  Scrapes are timed from
the client's side (connect to last byte), as Prometheus would see them: in
plain text, in the form Prometheus 3 asks for (its default ``Accept``, which
puts OpenMetrics first, and gzip), and the same request to prometheus_client's
own ASGI app serving the same registry — the reference of the scrape target.

At the largest size, a cheap route is driven open-loop (``bench.paced``) with
and without a scraper fetching ``/metrics`` back to back, to show what a scrape
costs the requests that share its process.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.paced import PacedRun
from bench.procs import Uvicorn, fetch, running
from bench.stats import median, percentile, rounded

#: Prometheus 3's default scrape request (scrape_protocols OpenMetricsText1.0.0,
#: OpenMetricsText0.0.1, PrometheusText1.0.0, PrometheusText0.0.4; UTF-8 names).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
PROMETHEUS_HEADERS = {
    "Accept": PROMETHEUS_ACCEPT,
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/3.5.0",
}
#: name → (path, headers, share of the scrape count)
FORMATS: dict[str, tuple[str, dict[str, str], float]] = {
    "text": ("/metrics", {"Accept-Encoding": "identity"}, 1.0),
    "openmetrics_gzip": ("/metrics", PROMETHEUS_HEADERS, 5.0),
    "library_openmetrics_gzip": ("/library-metrics/", PROMETHEUS_HEADERS, 1.0),
}
#: The cheap route's offered load while it is measured with and without scrapes.
CHEAP_RPS = 200.0

Log = Callable[[str], None]


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
    from fastapi_sentient.metrics._exposition import render

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


def _dechunk(raw: bytes) -> bytes:
    out, rest = [], raw
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def _scrapes(port: int, path: str, headers: dict[str, str], count: int) -> dict[str, Any]:
    times: list[float] = []
    got: dict[str, str] = {}
    body = b""
    for _ in range(count):
        started = time.perf_counter()
        status, got, body = fetch(port, path, headers, timeout=30)
        times.append((time.perf_counter() - started) * 1e3)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
    if got.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    plain = gzip.decompress(body) if got.get("content-encoding") == "gzip" else body
    return {
        "scrapes": count,
        "series": count_series(plain),
        "bytes": len(body),
        "uncompressed_bytes": len(plain),
        "content_type": got.get("content-type"),
        "median_ms": rounded(median(times), 2),
        "p90_ms": rounded(percentile(times, 90), 2),
        "p99_ms": rounded(percentile(times, 99), 2),
        "max_ms": rounded(max(times), 2),
    }


def _gzip_levels(plain: bytes, repeats: int = 7) -> list[dict[str, Any]]:
    """Time and size of gzip at each level on one exposition (in this process)."""
    rows = []
    for level in (1, 3, 6, 9):
        times = []
        size = 0
        for _ in range(repeats):
            started = time.perf_counter()
            size = len(gzip.compress(plain, compresslevel=level))
            times.append((time.perf_counter() - started) * 1e3)
        rows.append({"level": level, "median_ms": rounded(median(times), 2), "bytes": size})
    return rows


def _cheap_route(port: int, seconds: float) -> dict[str, Any]:
    """p50/p99 of a cheap route, offered open-loop, without and with back-to-back scrapes."""
    quiet = PacedRun(port, "/r0/1", CHEAP_RPS, seconds).result()
    stop = threading.Event()
    scrapes = [0]

    def scrape() -> None:
        while not stop.is_set():
            fetch(port, "/metrics", PROMETHEUS_HEADERS, timeout=30)
            scrapes[0] += 1

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    try:
        busy = PacedRun(port, "/r0/1", CHEAP_RPS, seconds).result()
    finally:
        stop.set()
        scraper.join(30)
    ratio = (
        busy.latency_p99_ms / quiet.latency_p99_ms
        if busy.latency_p99_ms and quiet.latency_p99_ms
        else None
    )
    return {
        "method": f"GET /r0/1 offered open-loop at {CHEAP_RPS:g} req/s for {seconds:g} s "
        "(bench.paced, its own process), first alone, then while one client fetches /metrics "
        "back to back with Prometheus's headers",
        "without_scrapes": quiet.as_dict(),
        "during_scrapes": busy.as_dict(),
        "scrapes_during": scrapes[0],
        "p99_ratio": rounded(ratio, 3),
    }


def run(targets: list[int], scrapes: int, log: Log, cheap_seconds: float = 5.0) -> dict[str, Any]:
    """The ``metrics_scale`` section of the results."""
    base, per_route = _calibrate()
    results: dict[str, Any] = {
        "method": "single-worker uvicorn, fastapi_sentient default install with N routes each "
        f"served once; scrapes on fresh connections, timed connect→last byte: {scrapes} in plain "
        f"text, {int(scrapes * FORMATS['openmetrics_gzip'][2])} as Prometheus 3 asks "
        "(OpenMetrics, gzip), and as many again of the library's own endpoint",
        "prometheus_accept": PROMETHEUS_ACCEPT,
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
            for name, (path, headers, share) in FORMATS.items():
                entry[name] = _scrapes(server.port, path, headers, max(3, int(scrapes * share)))
            ours, library = entry["openmetrics_gzip"], entry["library_openmetrics_gzip"]
            entry["openmetrics_vs_library"] = rounded(ours["median_ms"] / library["median_ms"], 3)
            entry["openmetrics_p99_vs_median"] = rounded(ours["p99_ms"] / ours["median_ms"], 3)
            if target == max(targets):
                plain = fetch(server.port, "/metrics", {"Accept": PROMETHEUS_ACCEPT})[2]
                entry["gzip_levels"] = _gzip_levels(plain)
                entry["cheap_route"] = _cheap_route(server.port, cheap_seconds)
            results["sizes"].append(entry)
            log(
                f"  {entry['text']['series']} series: text {entry['text']['median_ms']} ms; "
                f"Prometheus's scrape {ours['median_ms']} ms (p99 {ours['p99_ms']}), library "
                f"{library['median_ms']} ms → {entry['openmetrics_vs_library']} ×"
                + (
                    f"; cheap route p99 ×{entry['cheap_route']['p99_ratio']} during scrapes"
                    if "cheap_route" in entry
                    else ""
                )
            )
    return results
