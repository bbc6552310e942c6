"""Container CPU and memory figures from the cgroup, and the load average, at scrape time.

Read on each scrape (a handful of small kernel files, no dependency I/O), so
the numbers are never stale and nothing runs between scrapes.  Throttling is
the headline: a container at its CPU quota shows no "100 % CPU" anywhere, only
throttled periods and seconds climbing.  Names carry a ``cgroup_`` prefix so
they never mix with cAdvisor's ``container_*`` series in the same Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterator

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fastapi_sentient.health._cgroup import Cgroup


class ContainerCollector(Collector):
    """Exports the cgroup's CPU and memory figures and the system load average."""

    def __init__(self, cgroup: Cgroup) -> None:
        self.cgroup = cgroup

    def collect(self) -> Iterator[Metric]:
        cpu = self.cgroup.cpu()
        if cpu is not None:
            yield CounterMetricFamily(
                "cgroup_cpu_usage_seconds", "CPU time used by the container.", cpu.usage_seconds
            )
            yield CounterMetricFamily(
                "cgroup_cpu_periods",
                "CFS enforcement periods elapsed under a CPU quota.",
                cpu.periods,
            )
            yield CounterMetricFamily(
                "cgroup_cpu_throttled_periods",
                "Periods in which the container was throttled at its CPU quota.",
                cpu.throttled_periods,
            )
            yield CounterMetricFamily(
                "cgroup_cpu_throttled_seconds",
                "Time the container spent throttled at its CPU quota.",
                cpu.throttled_seconds,
            )
            if cpu.quota_cores is not None:
                yield GaugeMetricFamily(
                    "cgroup_cpu_quota_cores",
                    "The container's CPU quota in cores (absent when unlimited).",
                    cpu.quota_cores,
                )
        memory = self.cgroup.memory()
        if memory is not None:
            yield GaugeMetricFamily(
                "cgroup_memory_usage_bytes", "Memory charged to the container.", memory.usage_bytes
            )
            yield GaugeMetricFamily(
                "cgroup_memory_working_set_bytes",
                "Usage less inactive file cache: what evictions and the OOM killer go by.",
                memory.working_set_bytes,
            )
            if memory.limit_bytes is not None:
                yield GaugeMetricFamily(
                    "cgroup_memory_limit_bytes",
                    "The container's memory limit (absent when unlimited).",
                    memory.limit_bytes,
                )
        load = GaugeMetricFamily(
            "system_load_average",
            "System load average over 1, 5 and 15 minutes.",
            labels=["period"],
        )
        for period, value in zip(("1m", "5m", "15m"), psutil.getloadavg(), strict=True):
            load.add_metric([period], value)
        yield load
