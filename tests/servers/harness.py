"""Real server processes (uvicorn, gunicorn, hypercorn, granian) and the drain scenario.

The scenario is the one users hit on every rollout: slow requests are in flight,
SIGTERM arrives, and new requests keep coming for a while because load
balancers learn of the termination late.  Everything is counted — requests sent
while the server should still serve, failures among them, in-flight requests
completed — and orderings are checked, never durations.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from tests.support.procs import ROOT, free_port, wait_until

APP = "tests.servers.drain_app:app"


def server_command(server: str, port: int, workers: int) -> list[str]:
    """The command line a user would type for ``server``."""
    bind = f"127.0.0.1:{port}"
    py = [sys.executable, "-m"]
    if server == "uvicorn":
        extra = ["--workers", str(workers)] if workers > 1 else []
        return [*py, "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port), *extra]
    if server == "gunicorn":
        return [
            *py,
            "gunicorn",
            APP,
            "-k",
            "uvicorn_worker.UvicornWorker",
            "-w",
            str(workers),
            "-b",
            bind,
            "--graceful-timeout",
            "30",
        ]
    if server in ("hypercorn", "hypercorn-uvloop"):
        # workers=0 serves in the process hypercorn was started as (its single-process mode)
        loop = ["-k", "uvloop"] if server == "hypercorn-uvloop" else []
        return [
            *py,
            "hypercorn",
            APP,
            "-b",
            bind,
            "-w",
            str(workers),
            "--graceful-timeout",
            "30",
            *loop,
        ]
    if server == "hypercorn-serve":
        # hypercorn started from code, as its docs show for asyncio programs
        script = (
            "import asyncio\n"
            "from hypercorn.asyncio import serve\n"
            "from hypercorn.config import Config\n"
            "from tests.servers.drain_app import app\n"
            "config = Config()\n"
            f"config.bind = ['{bind}']\n"
            "config.graceful_timeout = 30\n"
            "asyncio.run(serve(app, config))\n"
        )
        return [sys.executable, "-c", script]
    if server in ("granian", "granian-asyncio"):
        # granian picks uvloop when it is installed (the dev environment has it)
        loop = ["--loop", "asyncio"] if server == "granian-asyncio" else []
        return [
            *py,
            "granian",
            *loop,
            "--interface",
            "asgi",
            APP,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(max(workers, 1)),
        ]
    raise ValueError(server)


class ServerProcess:
    """One server process tree serving the drain app on a free port."""

    def __init__(
        self, server: str, workers: int, tmp: Path, env: dict[str, str] | None = None
    ) -> None:
        self.server, self.workers = server, workers
        self.port = free_port()
        self.marks = tmp / "marks"
        self.marks.touch()
        self.log_path = tmp / f"{server}-{self.port}.log"
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DRAIN_TEST_MARKS": str(self.marks),
            **(env or {}),
        }
        self.env.pop("SENTIENT_PORT", None)  # the node id must find the port by itself
        self.env["PYTHONPATH"] = os.pathsep.join([str(ROOT), self.env.get("PYTHONPATH", "")])
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports_seen: set[int | None] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            server_command(self.server, self.port, self.workers),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
        )
        return self

    def wait_serving(self, processes: int, timeout: float = 40.0) -> dict[int, str]:
        """Poll /whoami on fresh connections until ``processes`` distinct workers answered."""
        seen: dict[int, str] = {}

        def all_answered() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.server} exited:\n{self.output()}")
            try:
                ready = httpx2.get(self.url + "/ready", timeout=1)
                who = httpx2.get(self.url + "/whoami", timeout=1).json()
            except httpx2.HTTPError:
                return False
            if ready.status_code == 200:
                seen[int(who["pid"])] = str(who["node"])
                self.ports_seen.add(who["port"])
            return len(seen) >= processes

        try:
            wait_until(all_answered, timeout, 0.05, f"{processes} {self.server} worker(s)")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- output ---\n{self.output()}") from None
        return seen

    def marked(self, event: str) -> list[int]:
        """Pids that recorded ``event`` in the shared marks file."""
        pids = []
        for line in self.marks.read_text().splitlines():
            name, _, pid = line.partition(" ")
            if name == event:
                pids.append(int(pid))
        return pids

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class DrainReport:
    """What one drain scenario measured."""

    in_flight: int
    completed: int
    sent_during_delay: int = 0
    failed_during_delay: list[str] = field(default_factory=list)
    failed_after_delay: list[str] = field(default_factory=list)
    ready_codes: list[int] = field(default_factory=list)
    first_503_after: float | None = None
    shutdown_tasks: list[int] = field(default_factory=list)
    exit_code: int | None = None

    def summary(self) -> str:
        codes = Counter(self.ready_codes)
        return (
            f"in-flight {self.completed}/{self.in_flight}, sent during delay "
            f"{self.sent_during_delay}, failed {len(self.failed_during_delay)} (after the delay: "
            f"{len(self.failed_after_delay)}), /ready {dict(codes)}, "
            f"first 503 after {self.first_503_after}"
        )


async def _get(client: httpx2.AsyncClient, path: str) -> int | str:
    """Status of one GET on a fresh connection, or the transport error's name."""
    try:
        return (await client.get(path, headers={"connection": "close"})).status_code
    except httpx2.HTTPError as exc:
        return type(exc).__name__


async def drain_scenario(
    server: ServerProcess,
    *,
    delay: float,
    slow_seconds: float = 3.0,
    requests: int = 10,
    before_sigterm: Callable[[], Awaitable[None]] | None = None,
    keep_sending_for: float | None = None,
) -> DrainReport:
    """``requests`` slow requests in flight, then SIGTERM (after ``before_sigterm``).

    New requests go out every few tens of milliseconds on fresh connections for
    ``keep_sending_for`` seconds (default 70 % of the delay) after the drain starts
    — the window in which a load balancer may still route to this replica.
    """
    limits = httpx2.Limits(max_connections=requests + 10)
    # probes ask for "connection: close": each one opens a new connection, like new traffic
    probe = httpx2.AsyncClient(base_url=server.url, timeout=10)
    async with probe, httpx2.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        slow = [
            asyncio.create_task(client.get(f"/slow?seconds={slow_seconds}"))
            for _ in range(requests)
        ]
        await asyncio.to_thread(
            wait_until,
            lambda: len(server.marked("start")) >= requests,
            20,
            0.02,
            f"{requests} slow requests in flight",
        )
        report = DrainReport(in_flight=len(server.marked("start")), completed=0)
        drain_started = time.monotonic()
        if before_sigterm is not None:
            # the preStop hook runs first; requests keep arriving while it does
            hook = asyncio.create_task(before_sigterm())
            while not hook.done():
                await _probe_once(probe, report, drain_started, delay)
            await hook
        else:
            server.signal(signal.SIGTERM)
        window = keep_sending_for if keep_sending_for is not None else delay * 0.7
        if before_sigterm is not None:
            server.signal(signal.SIGTERM)
        else:
            while time.monotonic() - drain_started < window:
                await _probe_once(probe, report, drain_started, delay)
        results = await asyncio.gather(*slow, return_exceptions=True)
    report.completed = sum(
        1 for r in results if isinstance(r, httpx2.Response) and r.status_code == 200
    )
    report.exit_code = await asyncio.to_thread(server.wait_exit, 60)
    report.shutdown_tasks = server.marked("shutdown-task")
    return report


async def _probe_once(
    probe: httpx2.AsyncClient, report: DrainReport, started: float, delay: float
) -> None:
    ready, fast = await asyncio.gather(_get(probe, "/ready"), _get(probe, "/fast"))
    # On a starved machine a request sent inside the window may only reach the server after
    # the delay, when it rightly stops listening: such a failure is counted apart.
    late = time.monotonic() - started >= delay
    if isinstance(ready, int):
        report.ready_codes.append(ready)
        if ready == 503 and report.first_503_after is None:
            report.first_503_after = round(time.monotonic() - started, 3)
    elif not late:
        report.ready_codes.append(0)
    report.sent_during_delay += 1
    if fast != 200:
        (report.failed_after_delay if late else report.failed_during_delay).append(str(fast))
    await asyncio.sleep(0.05)
