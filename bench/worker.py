"""One configuration in a process of its own, driven by the in-process coordinator.

Protocol: one JSON object per line.  The worker prints ``{"event": "ready", ...}``
once its app has started and warmed up (or ``"available": false`` with the
reason), then answers each command read from stdin: ``{"cmd": "run", "count": N}``
→ ``{"wall", "cpu", "errors", "count"}`` (seconds); ``{"cmd": "profile", "count": N}``
→ a cProfile of N requests; ``{"cmd": "quit"}`` → shut the app down and exit.

Telemetry exporters run in background threads; after each timed run the worker
flushes them before answering, so their cost lands in the uvicorn figures (where
it belongs to the same process) and never in another configuration's round.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import json
import pstats
import sys
import time
import traceback
from types import ModuleType
from typing import Any

from bench.apps.common import REQUEST_PATH
from bench.asgi_driver import Driver, started
from bench.configs import BY_NAME


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def _flushables(module: ModuleType) -> list[Any]:
    """Telemetry providers whose queued data should be exported before answering."""
    candidates: list[Any] = [getattr(module, "tracer_provider", None)]
    candidates.append(getattr(module, "meter_provider", None))
    sentient = getattr(module, "sentient", None)
    for holder in (sentient, getattr(sentient, "tracing", None)):
        candidates.append(getattr(holder, "tracer_provider", None))
        candidates.append(getattr(holder, "provider", None))
    try:
        from opentelemetry import trace

        candidates.append(trace.get_tracer_provider())
    except ImportError:
        pass
    seen: list[Any] = []
    for candidate in candidates:
        if callable(getattr(candidate, "force_flush", None)) and not any(
            candidate is known for known in seen
        ):
            seen.append(candidate)
    return seen


def flush(module: ModuleType) -> None:
    for provider in _flushables(module):
        try:
            provider.force_flush()
        except Exception as exc:  # a failed export must not stop the benchmark
            print(f"flush failed: {exc!r}", file=sys.stderr)


async def check(driver: Driver, traces: bool) -> str | None:
    """Why this configuration cannot be measured, or None when it can."""
    status, body = await driver.request(REQUEST_PATH)
    if status != 200 or b'"item_id":42' not in body:
        return f"benchmark route answered {status}: {body[:200]!r}"
    if traces:
        status, body = await driver.request("/bench/span")
        if status != 200 or json.loads(body).get("recording") is not True:
            return "tracing is not active: no recording span inside the route"
    return None


def profile(driver: Driver, loop: asyncio.AbstractEventLoop, count: int) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    _wall, seconds, errors = loop.run_until_complete(driver.timed(REQUEST_PATH, count))
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{_short(path)}:{line}({func})",
                "ncalls": ncalls,
                "tottime_us_per_request": tottime / count * 1e6,
                "cumtime_us_per_request": cumtime / count * 1e6,
            }
        )
    return {"seconds": seconds, "errors": errors, "count": count, "rows": rows}


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, choices=sorted(BY_NAME))
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()
    config = BY_NAME[args.config]

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(config.module)
    except Exception as exc:
        emit({"event": "ready", "available": False, "reason": f"import failed: {exc!r}"})
        return
    import_seconds = time.perf_counter() - t0
    lifespan = started(module.app)
    try:
        driver = loop.run_until_complete(lifespan.__aenter__())
    except Exception as exc:
        traceback.print_exc()
        emit({"event": "ready", "available": False, "reason": f"startup failed: {exc!r}"})
        return
    reason = loop.run_until_complete(check(driver, config.traces))
    if reason is None:
        loop.run_until_complete(driver.timed(REQUEST_PATH, args.warmup))
        flush(module)
    emit(
        {
            "event": "ready",
            "available": reason is None,
            "reason": reason,
            "import_seconds": import_seconds,
        }
    )
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "quit" or reason is not None:
                break
            gc.collect()
            if command["cmd"] == "run":
                wall, cpu, errors = loop.run_until_complete(
                    driver.timed(REQUEST_PATH, command["count"])
                )
                flush(module)
                emit({"wall": wall, "cpu": cpu, "errors": errors, "count": command["count"]})
            elif command["cmd"] == "profile":
                result = profile(driver, loop, command["count"])
                flush(module)
                emit(result)
    finally:
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        flush(module)
        loop.close()


if __name__ == "__main__":
    main()
