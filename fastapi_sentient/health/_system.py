"""Built-in system checks: CPU (with load average), memory, disk and event-loop lag.

CPU and memory are measured against the container's cgroup limits when it has
them (see :mod:`fastapi_sentient.health._cgroup`) and against the host only when
it has none.

They are non-critical by default: a busy CPU says "look at me" (degraded) but
must not pull every replica out of the load balancer at the same moment.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import psutil

from fastapi_sentient.health._cgroup import Cgroup, CpuUsage
from fastapi_sentient.health._result import CheckResult, HealthStatus


def _grade(value: float, warning: float, critical: float) -> HealthStatus:
    if value >= critical:
        return HealthStatus.UNHEALTHY
    if value >= warning:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


def load_average() -> dict[str, float]:
    """The 1, 5 and 15 minute load averages, and the 1-minute one per available core."""
    one, five, fifteen = psutil.getloadavg()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    cores = cores or psutil.cpu_count() or 1
    return {"1m": one, "5m": five, "15m": fifteen, "perCore1m": round(one / cores, 3)}


class CpuCheck:
    """CPU use against the container's quota, or the host's when it has none.

    With a cgroup CPU quota the figure is the container's CPU time over the
    interval divided by what the quota allows (Δusage / (Δwall × quota)), the
    number that matters before throttling sets in; throttled periods come along.
    Without a quota it is psutil's host figure.  Either way a short window of
    runs is averaged, so one busy moment (a deploy, a burst of startups) does
    not read as saturation.
    """

    def __init__(
        self,
        warning: float,
        critical: float,
        window: int = 3,
        cgroup: Cgroup | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.warning, self.critical = warning, critical
        self._samples: deque[float] = deque(maxlen=window)
        self._cgroup = cgroup
        self._clock = clock
        self._last: tuple[float, CpuUsage] | None = None
        reading = cgroup.cpu() if cgroup is not None else None
        if reading is not None and reading.quota_cores:
            self._last = (clock(), reading)
        psutil.cpu_percent(interval=None)  # prime the host counter

    def _quota_percent(self) -> tuple[float, dict[str, Any]] | None:
        reading = self._cgroup.cpu() if self._cgroup is not None else None
        if reading is None or not reading.quota_cores:
            return None
        now, last = self._clock(), self._last
        self._last = (now, reading)
        if last is None or now <= last[0]:
            return None
        elapsed, previous = now - last[0], last[1]
        used = max(0.0, reading.usage_seconds - previous.usage_seconds)
        periods = reading.periods - previous.periods
        throttled = reading.throttled_periods - previous.throttled_periods
        return 100.0 * used / (elapsed * reading.quota_cores), {
            "source": f"cgroup {reading.version}",
            "quotaCores": reading.quota_cores,
            "throttledPeriods": throttled,
            "throttledRatio": round(throttled / periods, 4) if periods > 0 else 0.0,
        }

    async def __call__(self) -> CheckResult:
        measured = self._quota_percent()
        if measured is None:
            sample, details = (
                psutil.cpu_percent(interval=None),
                {"source": "host", "cores": psutil.cpu_count()},
            )
        else:
            sample, details = measured
        self._samples.append(sample)
        percent = sum(self._samples) / len(self._samples)
        status = _grade(percent, self.warning, self.critical)
        error = f"CPU at {percent:.1f}%" if status != HealthStatus.HEALTHY else None
        return CheckResult(
            status=status,
            details={"percent": round(percent, 2), **details, "loadAverage": load_average()},
            error=error,
        )


class MemoryCheck:
    """Memory in use against the container's limit, or the host's memory when it has none.

    With a cgroup memory limit the figure is the working set (usage less the
    inactive file cache the kernel can drop — what Kubernetes evicts on) over
    the limit, so the check degrades and fails before the OOM killer acts.
    """

    def __init__(self, warning: float, critical: float, cgroup: Cgroup | None = None) -> None:
        self.warning, self.critical = warning, critical
        self._process = psutil.Process()
        self._cgroup = cgroup

    async def __call__(self) -> CheckResult:
        reading = self._cgroup.memory() if self._cgroup is not None else None
        host = psutil.virtual_memory()
        details: dict[str, Any]
        if reading is not None and reading.limit_bytes and reading.limit_bytes < host.total:
            percent = 100.0 * reading.working_set_bytes / reading.limit_bytes
            details = {
                "source": f"cgroup {reading.version}",
                "limitBytes": reading.limit_bytes,
                "usageBytes": reading.usage_bytes,
                "workingSetBytes": reading.working_set_bytes,
            }
        else:
            percent = host.percent
            details = {"source": "host", "availableBytes": host.available}
        status = _grade(percent, self.warning, self.critical)
        return CheckResult(
            status=status,
            details={
                "percent": round(percent, 2),
                **details,
                "processRssBytes": self._process.memory_info().rss,
            },
            error=f"memory at {percent:.1f}%" if status != HealthStatus.HEALTHY else None,
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
