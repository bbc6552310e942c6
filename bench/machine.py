"""What the numbers were measured on: hardware, load, versions, commit."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.procs import ROOT

PACKAGES = (
    "fastapi-sentient",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "prometheus-client",
    "prometheus-fastapi-instrumentator",
    "starlette-exporter",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-fastapi",
    "opentelemetry-exporter-otlp-proto-http",
    "redis",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 1024**3, 1)
    except Exception:
        return None


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _tool_version(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10)
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else None


def git_state() -> dict[str, Any]:
    """The commit checked out, and whether the package has uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "package_modified": bool(git("status", "--porcelain", "--", "fastapi_sentient")),
    }


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


class OtherWork:
    """CPU time the rest of the machine used while this run was measuring.

    The load average cannot say whether a run was disturbed: by the end it mostly
    counts the run's own servers and load generators.  This subtracts the CPU
    time of this process and every child it started (all reaped by the end)
    from the machine's busy time (user, nice, system and interrupts, all cores), leaving what
    other processes took.
    """

    def __init__(self) -> None:
        self._start = self._snapshot()

    @staticmethod
    def _snapshot() -> tuple[float, float, float, float]:
        import psutil

        machine = psutil.cpu_times()
        own = os.times()
        ours = own.user + own.system + own.children_user + own.children_system
        for child in psutil.Process().children(recursive=True):
            try:
                times = child.cpu_times()
            except psutil.Error:
                continue
            ours += times.user + times.system
        busy = machine.user + machine.nice + machine.system
        busy += getattr(machine, "irq", 0.0) + getattr(machine, "softirq", 0.0)
        return time.monotonic(), busy, ours, float(getattr(machine, "steal", 0.0))

    def result(self) -> dict[str, float]:
        """Other processes' CPU seconds, as an average number of cores, and steal time."""
        at0, busy0, ours0, steal0 = self._start
        at1, busy1, ours1, steal1 = self._snapshot()
        other = max(0.0, (busy1 - busy0) - (ours1 - ours0))
        elapsed = max(at1 - at0, 1e-9)
        return {
            "seconds": round(elapsed, 1),
            "other_cpu_s": round(other, 1),
            "other_cores": round(other / elapsed, 3),
            "steal_s": round(steal1 - steal0, 1),
        }


def describe() -> dict[str, Any]:
    """The machine section of the results."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {pkg: _version(pkg) for pkg in PACKAGES},
        "tools": {
            "wrk": _tool_version(["wrk", "-v"]),
            "redis-server": _tool_version(["redis-server", "--version"]),
        },
        "git": git_state(),
        "load_average_at_start": load_average(),
    }
