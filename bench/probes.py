"""``/ready`` and ``/live`` latency while the app serves load.

Kubelet opens a new connection for every probe, so each probe here does too;
the load generator keeps the benchmark route busy on the same single-worker
uvicorn for the whole sampling window.  A closed-loop generator saturates the
worker at any concurrency; what the concurrency sets is how many requests are
queued on the event loop ahead of a probe, so two levels are measured: the
throughput benchmark's, and a light one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.apps.common import REQUEST_PATH
from bench.configs import BY_NAME
from bench.load import Loader, LoadResult
from bench.procs import Uvicorn, http_get, running
from bench.stats import percentile, rounded

Log = Callable[[str], None]

#: A second, lighter load: the event loop's queue is this deep instead of the full load's.
LIGHT_CONNECTIONS = 4


def _sample(port: int, paths: list[str], until: float, interval: float) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {path: [] for path in paths}
    failures: dict[str, int] = dict.fromkeys(paths, 0)
    while time.monotonic() < until:
        for path in paths:
            started = time.perf_counter()
            try:
                status, _ = http_get(port, path, timeout=5.0)
            except OSError:
                status = 0
            elapsed = time.perf_counter() - started
            if status == 200:
                latencies[path].append(elapsed * 1e3)
            else:
                failures[path] += 1
        time.sleep(interval)  # probe pacing, as a kubelet's period
    return {**latencies, **{f"{path}:failures": [float(n)] for path, n in failures.items()}}


def _summary(samples: dict[str, list[float]], paths: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        values = samples[path]
        out[path] = {
            "samples": len(values),
            "failures": int(samples[f"{path}:failures"][0]),
            "p50_ms": rounded(percentile(values, 50), 3),
            "p90_ms": rounded(percentile(values, 90), 3),
            "p99_ms": rounded(percentile(values, 99), 3),
            "max_ms": rounded(max(values) if values else None, 3),
        }
    return out


def run(loader: Loader, seconds: float, log: Log) -> dict[str, Any]:
    """The ``probes`` section of the results."""
    paths = ["/ready", "/live"]
    light = Loader(loader.wrk, LIGHT_CONNECTIONS)
    server = Uvicorn("uvicorn-probes", BY_NAME["ours"].target)
    with running(server.start()):
        server.wait_ready("/ready", timeout=60)
        idle = _sample(server.port, paths, time.monotonic() + min(seconds, 3.0), 0.02)
        busy, load = _under_load(server.port, loader, paths, seconds)
        calm, light_load = _under_load(server.port, light, paths, seconds)
    log(
        f"  /ready p99: {_summary(busy, paths)['/ready']['p99_ms']} ms with {loader.connections} "
        f"connections, {_summary(calm, paths)['/ready']['p99_ms']} ms with {LIGHT_CONNECTIONS}"
    )
    return {
        "method": f"new TCP connection per probe every ~20 ms, against fastapi_sentient's "
        f"default install in a single-worker uvicorn while {loader.generator} keeps "
        f"{loader.connections} (then {LIGHT_CONNECTIONS}) connections busy on the benchmark route",
        "seconds": seconds,
        "idle": _summary(idle, paths),
        "under_load": _summary(busy, paths),
        "load": {**load.as_dict(), "connections": loader.connections},
        "under_light_load": _summary(calm, paths),
        "light_load": {**light_load.as_dict(), "connections": LIGHT_CONNECTIONS},
    }


def _under_load(
    port: int, loader: Loader, paths: list[str], seconds: float
) -> tuple[dict[str, list[float]], LoadResult]:
    running_load = loader.start(port, REQUEST_PATH, seconds + 1.0)
    try:
        time.sleep(0.5)  # the generator's ramp-up: its connections open before sampling starts
        samples = _sample(port, paths, time.monotonic() + seconds, 0.02)
    finally:
        result = running_load.result()
    return samples, result
