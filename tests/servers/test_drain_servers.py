"""Drain under every common ASGI server, each a real process tree receiving a real SIGTERM.

Per server: 10 slow requests in flight at SIGTERM, new requests on fresh
connections throughout the drain delay, /ready polled alongside.  Counted:
failures among the requests sent during the delay (0), in-flight requests
completed (10/10), shutdown tasks run (one per worker).  The measured table in
docs/shutdown.md comes from these runs.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx2
import pytest

from tests.servers.harness import DrainReport, ServerProcess, drain_scenario
from tests.support.procs import free_port

pytestmark = pytest.mark.integration

DELAY = 3.0

# (server, workers): hypercorn 0 is its single-process mode (`-w 0`)
FULL_DRAIN = [
    ("uvicorn", 1),
    ("uvicorn", 2),
    ("gunicorn", 2),
    ("hypercorn", 0),
    ("hypercorn-uvloop", 0),
    ("hypercorn-serve", 0),
    ("granian", 1),
    ("granian-asyncio", 1),
]
# started from code, hypercorn binds after lifespan startup: no port to find then (SENTIENT_PORT)
PORT_UNKNOWN = {"hypercorn-serve"}
# requests sent (and all served) during the delay: a count a loaded machine still reaches
MIN_SENT = 3


def _check_full_drain(report: DrainReport, server: ServerProcess, workers: int) -> None:
    summary = f"{server.server} x{workers}: {report.summary()}\n{server.output()}"
    assert report.in_flight == 10, summary
    assert report.completed == 10, summary
    # how many fit in the delay depends on the machine's load; a few prove it was served
    assert report.sent_during_delay >= MIN_SENT, summary
    assert report.failed_during_delay == [], summary
    assert 0 not in report.ready_codes, summary  # every probe answered
    # readiness turns 503 and stays there: once one answer is 503, no 200 follows
    codes = report.ready_codes
    assert 503 in codes, summary
    assert 200 not in codes[codes.index(503) :], summary
    assert len(set(report.shutdown_tasks)) == max(workers, 1), summary
    assert "cannot be kept" not in server.output(), summary


@pytest.mark.parametrize(("name", "workers"), FULL_DRAIN, ids=[f"{s}-{w}" for s, w in FULL_DRAIN])
async def test_sigterm_drains_under_server(name: str, workers: int, tmp_path: Path) -> None:
    """Readiness 503 at once, new requests served during the delay, in-flight completed, tasks ran."""
    server = ServerProcess(name, workers, tmp_path, env={"SENTIENT_SHUTDOWN_DELAY": str(DELAY)})
    try:
        server.start()
        nodes = await asyncio.to_thread(server.wait_serving, max(workers, 1))
        report = await drain_scenario(server, delay=DELAY)
    finally:
        server.stop()
    # node-id port detection: host:port:pid with the real port under every server
    expected = "0" if name in PORT_UNKNOWN else str(server.port)
    assert all(node.split(":")[-2] == expected for node in nodes.values()), nodes
    assert server.ports_seen == ({None} if name in PORT_UNKNOWN else {server.port})
    _check_full_drain(report, server, workers)
    print(f"\n{name} x{workers}: {report.summary()}")


async def test_hypercorn_worker_processes_warn_and_prestop_drains(tmp_path: Path) -> None:
    """hypercorn's worker processes never see SIGTERM: a startup WARNING; preStop /drain (management port) gives 0 failures."""
    management = free_port()
    env = {
        "SENTIENT_SHUTDOWN_DELAY": str(DELAY),
        "SENTIENT_DRAIN_ENDPOINT": "true",
        "SENTIENT_MANAGEMENT_PORT": str(management),
    }
    server = ServerProcess("hypercorn", 1, tmp_path, env=env)

    async def prestop() -> None:  # preStop: httpGet {path: /drain, port: management}
        async with httpx2.AsyncClient(timeout=30) as client:
            answer = await client.get(f"http://127.0.0.1:{management}/drain")
        assert answer.status_code == 200, answer.text

    try:
        server.start()
        nodes = await asyncio.to_thread(server.wait_serving, 1)
        report = await drain_scenario(server, delay=DELAY, before_sigterm=prestop)
    finally:
        server.stop()
    output = server.output()
    assert "SIGTERM does not reach the app before hypercorn shuts down" in output, output
    assert "serving for" not in output  # no delay announced that cannot be kept
    assert all(node.split(":")[-2] == str(server.port) for node in nodes.values()), nodes
    summary = f"{report.summary()}\n{output}"
    assert report.completed == 10 == report.in_flight, summary
    assert report.sent_during_delay >= MIN_SENT and report.failed_during_delay == [], summary
    assert 503 in report.ready_codes and 0 not in report.ready_codes, summary
    assert report.shutdown_tasks, summary
    print(f"\nhypercorn x1 + preStop /drain: {report.summary()}")


async def test_prestop_sleep_then_sigterm_under_hypercorn_workers(tmp_path: Path) -> None:
    """The exec-sleep preStop: traffic during the sleep is served, SIGTERM after it loses nothing in flight."""
    server = ServerProcess("hypercorn", 1, tmp_path, env={"SENTIENT_SHUTDOWN_DELAY": "0"})

    async def prestop() -> None:
        await asyncio.sleep(DELAY)  # preStop: exec ["sleep", "2"]

    try:
        server.start()
        await asyncio.to_thread(server.wait_serving, 1)
        report = await drain_scenario(server, delay=DELAY, before_sigterm=prestop)
    finally:
        server.stop()
    summary = f"{report.summary()}\n{server.output()}"
    assert report.completed == 10 == report.in_flight, summary
    assert report.sent_during_delay >= MIN_SENT and report.failed_during_delay == [], summary
    assert "SIGTERM does not reach" not in server.output()  # no delay asked, nothing to warn about
    assert report.exit_code is not None and report.exit_code != -signal.SIGKILL
    print(f"\nhypercorn x1 + preStop sleep: {report.summary()}")
