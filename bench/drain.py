"""Drain time with N requests in flight.

N slow requests (each held for a fixed time) are opened against a single-worker
uvicorn running fastapi_sentient; once the app reports all N started, SIGTERM
is sent.  Measured from the signal: when the last response arrived and when the
process exited, and whether every request got its 200.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.procs import Uvicorn, fetch, running, wait_until
from bench.stats import rounded

Log = Callable[[str], None]


async def _one(port: int) -> tuple[int, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /bench/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        raw = await reader.read()
    finally:
        writer.close()
    status = int(raw[9:12]) if raw.startswith(b"HTTP/") else 0
    return status, time.perf_counter()


def _clients(port: int, count: int, out: list[tuple[int, float]]) -> None:
    async def main() -> None:
        results = await asyncio.gather(*(_one(port) for _ in range(count)), return_exceptions=True)
        out.extend(r if isinstance(r, tuple) else (0, time.perf_counter()) for r in results)

    asyncio.run(main())


def _measure(count: int, hold: float) -> dict[str, Any]:
    server = Uvicorn(
        f"uvicorn-drain-{count}",
        "bench.apps.slow:app",
        {
            "BENCH_SLOW_SECONDS": str(hold),
            "SENTIENT_SHUTDOWN_DELAY": "0",
            "SENTIENT_DRAIN_TIMEOUT": "30",
        },
        ["--timeout-graceful-shutdown", "30"],
    )
    with running(server.start()):
        server.wait_ready("/ready", timeout=60)
        done: list[tuple[int, float]] = []
        thread = threading.Thread(target=_clients, args=(server.port, count, done), daemon=True)
        thread.start()
        wait_until(
            lambda: json.loads(fetch(server.port, "/bench/started")[2])["count"] >= count,
            30,
            f"{count} slow requests in flight",
            0.005,
        )
        signalled = time.perf_counter()
        server.signal(signal.SIGTERM)
        assert server.proc is not None
        server.proc.wait(60)
        exited = time.perf_counter()
        thread.join(30)
    ok = sum(1 for status, _ in done if status == 200)
    last = max((t for _, t in done), default=exited)
    return {
        "in_flight": count,
        "hold_s": hold,
        "completed_200": ok,
        "all_completed": ok == count,
        "last_response_after_signal_s": rounded(last - signalled, 3),
        "exit_after_signal_s": rounded(exited - signalled, 3),
        "exit_after_last_response_s": rounded(exited - last, 3),
    }


def run(counts: list[int], hold: float, log: Log) -> dict[str, Any]:
    """The ``drain`` section of the results."""
    rows = []
    for count in counts:
        rows.append(_measure(count, hold))
        log(
            f"  drain {count} in flight: exit {rows[-1]['exit_after_signal_s']} s after SIGTERM, "
            f"{rows[-1]['completed_200']}/{count} completed"
        )
    return {
        "method": "single-worker uvicorn (--timeout-graceful-shutdown 30), SENTIENT_SHUTDOWN_DELAY=0; "
        "SIGTERM once the app reports every slow request started",
        "rows": rows,
    }
