"""``/ready`` and ``/live`` latency while the app serves load.

Kubelet opens a new connection for every probe, so each probe here does too,
against the default install in a single-worker uvicorn, under three loads on
the benchmark route:

- **paced (open loop)**: requests offered at a fixed rate, half the default
  install's measured maximum throughput (``bench.paced``), whatever the server
  does — a busy service with headroom, the load the probe target is judged on;
- **saturated (closed loop)**: the throughput benchmark's load generator with
  its 32 connections; a closed loop keeps the worker saturated at any
  concurrency, and its concurrency sets how many requests queue on the event
  loop ahead of a probe;
- **saturated, 4 connections**: the same with a queue an eighth as deep.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

from bench.apps.common import REQUEST_PATH
from bench.configs import BY_NAME
from bench.load import Loader
from bench.paced import PacedRun
from bench.procs import Uvicorn, running
from bench.stats import percentile, rounded

Log = Callable[[str], None]

#: A second, lighter closed-loop load: the event loop's queue is this deep instead of 32.
LIGHT_CONNECTIONS = 4
#: The open-loop load, as a fraction of the default install's maximum throughput.
PACED_FRACTION = 0.5
#: Probe pacing (each probe path once per period, as a kubelet's period, only faster).
INTERVAL = 0.02
#: Faster probe pacing under the paced load, for enough samples to trust a p99.
PACED_INTERVAL = 0.01
#: The load starts this long before sampling, so its connections are open and warm.
RAMP_UP = 0.5


class _Load(Protocol):
    def result(self) -> Any: ...


def probe(port: int, path: str, timeout: float = 5.0) -> int:
    """One probe as kubelet sends it: a new connection, ``Connection: close``, done at the
    last byte of the body (by ``Content-Length``, not at the server's close)."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return 0
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return 0
            body += chunk
        return int(head[9:12])


def _sample(port: int, paths: list[str], until: float, interval: float) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {path: [] for path in paths}
    failures: dict[str, int] = dict.fromkeys(paths, 0)
    while time.monotonic() < until:
        for path in paths:
            started = time.perf_counter()
            try:
                status = probe(port, path)
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


def _under(
    server: Uvicorn,
    start: Callable[[], _Load],
    paths: list[str],
    seconds: float,
    interval: float,
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Probe samples while ``start()``'s load runs, and the load's result."""
    running_load = start()
    try:
        time.sleep(RAMP_UP)  # the generator's ramp-up: its connections open before sampling
        cpu_before, began = server.cpu_seconds(), time.monotonic()
        samples = _sample(server.port, paths, began + seconds, interval)
        busy = (server.cpu_seconds() - cpu_before) / (time.monotonic() - began)
    finally:
        result = running_load.result()
    return samples, {**result.as_dict(), "server_cpu_busy": round(busy, 3)}


def run(
    loader: Loader,
    seconds: float,
    paced_seconds: float,
    log: Log,
    max_rps: float | None = None,
) -> dict[str, Any]:
    """The ``probes`` section of the results.

    ``max_rps`` is the default install's throughput from the throughput
    benchmark of the same run; without it, the saturated phase's throughput
    (same server, same generator) sets the paced rate.
    """
    paths = ["/ready", "/live"]
    light = Loader(loader.wrk, LIGHT_CONNECTIONS)
    server = Uvicorn("uvicorn-probes", BY_NAME["ours"].target)
    with running(server.start()):
        server.wait_ready("/ready", timeout=60)
        idle = _sample(server.port, paths, time.monotonic() + min(seconds, 3.0), INTERVAL)
        window = seconds + RAMP_UP + 0.5

        def closed(chosen: Loader) -> Callable[[], _Load]:
            return lambda: chosen.start(server.port, REQUEST_PATH, window)

        busy, load = _under(server, closed(loader), paths, seconds, INTERVAL)
        load["connections"] = loader.connections
        calm, light_load = _under(server, closed(light), paths, seconds, INTERVAL)
        light_load["connections"] = LIGHT_CONNECTIONS

        if max_rps:
            reference, source = max_rps, "throughput benchmark, median"
        else:
            reference, source = load["rps"], f"saturated phase, {loader.connections} connections"
        rate = PACED_FRACTION * reference
        paced, paced_load = _under(
            server,
            lambda: PacedRun(server.port, REQUEST_PATH, rate, paced_seconds + RAMP_UP + 0.5),
            paths,
            paced_seconds,
            PACED_INTERVAL,
        )
        paced_load.update(max_rps=reference, max_rps_source=source, fraction=PACED_FRACTION)
    summaries = {
        "paced": _summary(paced, paths)["/ready"]["p99_ms"],
        "saturated": _summary(busy, paths)["/ready"]["p99_ms"],
        "light": _summary(calm, paths)["/ready"]["p99_ms"],
    }
    log(
        f"  /ready p99: {summaries['paced']} ms at {paced_load['rps']:.0f} req/s paced, "
        f"{summaries['saturated']} ms saturated with {loader.connections} connections, "
        f"{summaries['light']} ms with {LIGHT_CONNECTIONS}"
    )
    return {
        "method": "new TCP connection per probe, /ready and /live in turn, against "
        "fastapi_sentient's default install in a single-worker uvicorn while load runs "
        "on the benchmark route",
        "seconds": seconds,
        "paced_seconds": paced_seconds,
        "idle": _summary(idle, paths),
        "under_paced_load": _summary(paced, paths),
        "paced_load": paced_load,
        "under_load": _summary(busy, paths),
        "load": load,
        "under_light_load": _summary(calm, paths),
        "light_load": light_load,
    }
