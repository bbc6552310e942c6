"""Graceful drain against real uvicorn processes and real signals."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx2
import pytest

from tests.support.procs import app_process, wait_until

pytestmark = pytest.mark.integration

SLOW = "/api/agents/a/slow?seconds=2.5"


def in_flight(url: str) -> int:
    return int(httpx2.get(url + "/health", timeout=2).json()["inFlight"])


async def test_sigterm_drains_forty_in_flight_requests() -> None:
    """40 slow requests at SIGTERM all answer 200; /ready 503 at once; /live 200 to the end; tasks ran."""
    delay = 1.0
    env = {"SENTIENT_SHUTDOWN_DELAY": str(delay), "SENTIENT_HEALTH_DETAILS": "always"}
    with app_process("example_app.main:app", env=env) as proc:
        limits = httpx2.Limits(max_connections=100)
        async with httpx2.AsyncClient(base_url=proc.url, timeout=30, limits=limits) as client:
            slow = [asyncio.create_task(client.get(SLOW)) for _ in range(40)]
            await asyncio.to_thread(
                wait_until, lambda: in_flight(proc.url) >= 40, 10, 0.02, "40 in flight"
            )
            async with httpx2.AsyncClient(base_url=proc.url, timeout=5) as probe:
                signalled = time.monotonic()
                proc.signal(signal.SIGTERM)
                ready = await probe.get("/ready", headers={"connection": "close"})
                # readiness flipped while the drained requests were still being served
                pending_at_ready = sum(not task.done() for task in slow)
                live_codes: list[int] = []
                during: list[httpx2.Response] = []
                while proc.proc is not None and proc.proc.poll() is None:
                    try:
                        live_codes.append(
                            (await probe.get("/live", headers={"connection": "close"})).status_code
                        )
                        if time.monotonic() - signalled < delay * 0.8:
                            during.append(await probe.get("/api/agents/a/runs/1"))
                    except httpx2.TransportError:
                        break  # the listener closed: the server is shutting down
                    await asyncio.sleep(0.05)
            responses = await asyncio.gather(*slow)
        code = await asyncio.to_thread(proc.wait_exit, 15)
        exited = time.monotonic() - signalled
        output = proc.output()
    assert [r.status_code for r in responses] == [200] * 40
    assert ready.status_code == 503
    assert pending_at_ready > 0
    assert live_codes and set(live_codes) == {200}
    assert during and all(r.status_code == 200 for r in during)
    assert all(r.headers.get("connection") == "close" for r in during)
    assert exited < delay + 2.5 + 3.0, exited
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after its shutdown
    assert "example shutdown task: flushed events" in output
    assert "example lifespan: exited" in output
    assert "uvicorn has no --timeout-graceful-shutdown" in output
    assert output.index("flushed events") < output.index("example lifespan: exited")


async def test_second_signal_skips_the_delay() -> None:
    """A second SIGTERM during a long drain delay stops the server at once."""
    env = {"SENTIENT_SHUTDOWN_DELAY": "30", "SENTIENT_TERMINATION_GRACE_PERIOD": "20"}
    with app_process(
        "example_app.main:app", env=env, args=["--timeout-graceful-shutdown", "5"]
    ) as proc:
        async with httpx2.AsyncClient(base_url=proc.url, timeout=5) as client:
            proc.signal(signal.SIGTERM)
            await asyncio.to_thread(
                wait_until,
                lambda: httpx2.get(proc.url + "/ready").status_code == 503,
                5,
                0.02,
                "503",
            )
            assert (await client.get("/api/agents/a/runs/2")).status_code == 200
            started = time.monotonic()
            proc.signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait_exit, 10)
        assert time.monotonic() - started < 5
        output = proc.output()
    assert "exceeds SENTIENT_TERMINATION_GRACE_PERIOD=20s" in output
    assert "uvicorn has no --timeout-graceful-shutdown" not in output


async def test_sse_stream_ends_cleanly_on_drain() -> None:
    """An open SSE stream receives event: shutdown when draining starts, then completes."""
    with app_process("example_app.main:app", env={"SENTIENT_SHUTDOWN_DELAY": "1"}) as proc:
        async with httpx2.AsyncClient(base_url=proc.url, timeout=10) as client:
            async with client.stream("GET", "/api/agents/a/events?count=1000") as stream:
                lines = stream.aiter_lines()
                assert (await anext(lines)).startswith("data: a step 0")
                proc.signal(signal.SIGTERM)
                rest = [line async for line in lines]
        assert "event: shutdown" in rest
        assert not any(line.startswith("event: done") for line in rest)
        await asyncio.to_thread(proc.wait_exit, 10)


async def test_drain_endpoint_for_prestop() -> None:
    """GET /drain flips readiness, answers after the delay, and SIGTERM then skips the delay."""
    env = {
        "SENTIENT_SHUTDOWN_DELAY": "1",
        "SENTIENT_DRAIN_ENDPOINT": "true",
        "SENTIENT_HEALTH_TOKEN": "drain-test-token",
    }
    with app_process("example_app.main:app", env=env) as proc:
        async with httpx2.AsyncClient(base_url=proc.url, timeout=10) as client:
            auth = {"authorization": "Bearer drain-test-token"}
            drain = asyncio.create_task(client.get("/drain", headers=auth))
            await asyncio.to_thread(
                wait_until,
                lambda: httpx2.get(proc.url + "/ready").status_code == 503,
                5,
                0.02,
                "503",
            )
            assert not drain.done()
            answered = await drain
            assert answered.status_code == 200 and answered.json()["status"] == "draining"
            assert (await client.get("/live")).status_code == 200
            started = time.monotonic()
            proc.signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait_exit, 10)
        assert time.monotonic() - started < 3


async def test_probes_do_not_queue_behind_app_work() -> None:
    """300 /ready probes in a row all answer while 20 slow requests are still being served.

    How fast they answer is measured by ``make bench``; here the proof is the order:
    every probe completes before any of the 60 s requests it ran beside.
    """
    env = {"SENTIENT_HEALTH_DETAILS": "always"}
    # the slow requests are abandoned at the end: do not wait for them at shutdown
    args = ["--timeout-graceful-shutdown", "1"]
    with app_process("example_app.main:app", env=env, args=args) as proc:
        async with httpx2.AsyncClient(
            base_url=proc.url, timeout=90, limits=httpx2.Limits(max_connections=50)
        ) as client:
            slow = [
                asyncio.create_task(client.get("/api/agents/a/slow?seconds=60")) for _ in range(20)
            ]
            await asyncio.to_thread(
                wait_until, lambda: in_flight(proc.url) >= 20, 30, 0.02, "20 in flight"
            )
            async with httpx2.AsyncClient(base_url=proc.url, timeout=10) as probe:
                codes = [(await probe.get("/ready")).status_code for _ in range(300)]
            still_serving = sum(not task.done() for task in slow)
            for task in slow:
                task.cancel()
            await asyncio.gather(*slow, return_exceptions=True)
    assert codes == [200] * 300
    assert still_serving == 20
