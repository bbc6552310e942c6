"""``python -m bench.resilience``: what a refusal and a guard cost, in-process.

* an open breaker refusing a named HTTP client's request (``client.get`` raising
  ``CircuitOpenError``: the client builds the request, the transport refuses it);
* the same refusal through ``guard`` around a coroutine;
* a closed guard around a coroutine that does nothing, against the bare call.

Prints per-call percentiles in microseconds; no server is involved (the
client's base URL is a port nobody listens on, and nothing is sent).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from fastapi_sentient import include_plugin
from fastapi_sentient.resilience import CircuitOpenError
from fastapi_sentient.settings import SentientSettings

CALLS = 20000


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99)]
    return (
        f"{name:<40} median {statistics.median(ordered) * 1e6:8.1f} µs   "
        f"p99 {p99 * 1e6:8.1f} µs   max {ordered[-1] * 1e6:8.1f} µs"
    )


async def timed(call: Callable[[], Awaitable[object]], refused: bool) -> list[float]:
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        try:
            await call()
        except CircuitOpenError:
            if not refused:
                raise
        samples.append(time.perf_counter() - started)
    return samples


async def main() -> None:
    settings = SentientSettings(
        system_checks=False,
        handle_signals=False,
        process_metrics=False,
        http_clients={"search": {"base_url": "http://127.0.0.1:9", "policy": {"attempts": 1}}},
    )
    sentient = include_plugin(FastAPI(), settings)
    pool = sentient.pools.get("search")
    await pool.open()
    client = sentient.pools.http("search")
    breaker = sentient.resilience.policies["search"].breaker
    assert breaker is not None
    breaker.force_open(3600)

    async def noop() -> int:
        return 1

    guarded_open = sentient.resilience.guard("open-guard")(noop)
    open_breaker = sentient.resilience.policies["open-guard"].breaker
    assert open_breaker is not None
    open_breaker.force_open(3600)
    guarded = sentient.resilience.guard("closed-guard", breaker=True)(noop)

    print(f"{CALLS} calls each")
    print(
        summary(
            "client.get refused by an open breaker", await timed(lambda: client.get("/q"), True)
        )
    )
    print(summary("guard refused by an open breaker", await timed(guarded_open, True)))
    print(summary("guard, closed breaker, no-op coroutine", await timed(guarded, False)))
    print(summary("bare no-op coroutine", await timed(noop, False)))
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
