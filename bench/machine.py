"""What the numbers were measured on: hardware, load, versions, commit."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
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


def _git() -> dict[str, Any]:
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
        "git": _git(),
        "load_average_at_start": load_average(),
    }
