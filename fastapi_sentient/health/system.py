"""Built-in system checks: CPU, memory, disk and event-loop lag.

They are non-critical by default: a busy CPU says "look at me" (degraded) but
must not pull every replica out of the load balancer at the same moment.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import psutil

from fastapi_sentient.health.result import CheckResult, HealthStatus


def _grade(value: float, warning: float, critical: float) -> HealthStatus:
    if value >= critical:
        return HealthStatus.UNHEALTHY
    if value >= warning:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


class CpuCheck:
    """System-wide CPU utilisation, averaged over the last few runs.

    psutil's non-blocking form measures since the previous call; averaging a short
    window keeps one busy moment (a deploy, a burst of startups) from reading as a
    saturated host.
    """

    def __init__(self, warning: float, critical: float, window: int = 3) -> None:
        self.warning, self.critical = warning, critical
        self._samples: deque[float] = deque(maxlen=window)
        psutil.cpu_percent(interval=None)  # prime the counter

    async def __call__(self) -> CheckResult:
        self._samples.append(psutil.cpu_percent(interval=None))
        percent = sum(self._samples) / len(self._samples)
        status = _grade(percent, self.warning, self.critical)
        error = f"CPU at {percent:.1f}%" if status != HealthStatus.HEALTHY else None
        return CheckResult(
            status=status,
            details={"percent": percent, "cores": psutil.cpu_count()},
            error=error,
        )


class MemoryCheck:
    """System memory in use, and this process's resident set."""

    def __init__(self, warning: float, critical: float) -> None:
        self.warning, self.critical = warning, critical
        self._process = psutil.Process()

    async def __call__(self) -> CheckResult:
        memory = psutil.virtual_memory()
        status = _grade(memory.percent, self.warning, self.critical)
        return CheckResult(
            status=status,
            details={
                "percent": memory.percent,
                "availableBytes": memory.available,
                "processRssBytes": self._process.memory_info().rss,
            },
            error=f"memory at {memory.percent:.1f}%" if status != HealthStatus.HEALTHY else None,
        )


class DiskCheck:
    """Space used on one filesystem."""

    def __init__(self, path: str, warning: float, critical: float) -> None:
        self.path, self.warning, self.critical = path, warning, critical

    async def __call__(self) -> CheckResult:
        usage = psutil.disk_usage(self.path)
        status = _grade(usage.percent, self.warning, self.critical)
        return CheckResult(
            status=status,
            details={"path": self.path, "percent": usage.percent, "freeBytes": usage.free},
            error=f"disk {self.path} at {usage.percent:.1f}%"
            if status != HealthStatus.HEALTHY
            else None,
        )


class LoopLagMonitor:
    """Measures how late the event loop wakes a sleeper: the cost of blocking code.

    The monitor runs as one background task; the check only reads its figures,
    so a wedged loop shows up as lag, not as a check that never returns.
    """

    def __init__(self, warning: float, critical: float, period: float = 0.5) -> None:
        self.warning, self.critical, self.period = warning, critical, period
        self.lag = 0.0
        self.max_lag = 0.0

    async def run(self) -> None:
        """Sample the lag forever (cancelled at shutdown)."""
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lag = max(0.0, time.perf_counter() - started - self.period)
            self.max_lag = max(self.max_lag, self.lag)

    async def __call__(self) -> CheckResult:
        lag, worst = self.lag, self.max_lag
        self.max_lag = lag
        status = _grade(worst, self.warning, self.critical)
        return CheckResult(
            status=status,
            details={"lagSeconds": round(lag, 6), "maxLagSeconds": round(worst, 6)},
            error=f"event loop lag {worst * 1000:.0f} ms"
            if status != HealthStatus.HEALTHY
            else None,
        )
