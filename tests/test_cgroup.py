"""Container-true CPU and memory: fake cgroup v1 and v2 trees under a root directory, and this machine's."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
from prometheus_client import CollectorRegistry, generate_latest

from fastapi_sentient import HealthStatus
from fastapi_sentient.health._cgroup import Cgroup
from fastapi_sentient.health._system import CpuCheck, MemoryCheck
from fastapi_sentient.metrics._container import ContainerCollector
from tests.support.asgi import sample

MiB = 1024 * 1024
POD = "kubepods/burstable/pod1234/c0ffee"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Clock:
    """A clock the test moves (the CPU check's time seam)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def v2_tree(
    root: Path,
    *,
    memory_max: str = str(512 * MiB),
    current: int = 100 * MiB,
    inactive_file: int = 0,
    cpu_max: str = "50000 100000",
    usage_usec: int = 0,
    periods: int = 0,
    throttled: int = 0,
) -> Path:
    write(root / "proc/self/cgroup", f"0::/{POD}\n")
    own = root / "sys/fs/cgroup" / POD
    write(own / "cgroup.controllers", "cpuset cpu io memory pids\n")
    write(own / "memory.max", memory_max + "\n")
    write(own / "memory.current", f"{current}\n")
    write(own / "memory.stat", f"anon {current}\nfile 0\ninactive_file {inactive_file}\n")
    write(own / "cpu.max", cpu_max + "\n")
    write(
        own / "cpu.stat",
        f"usage_usec {usage_usec}\nuser_usec 0\nsystem_usec 0\nnr_periods {periods}\n"
        f"nr_throttled {throttled}\nthrottled_usec {throttled * 25_000}\n",
    )
    return own


def v1_tree(
    root: Path,
    *,
    limit: int = 512 * MiB,
    usage: int = 100 * MiB,
    inactive_file: int = 0,
    quota: int = 200_000,
    usage_ns: int = 0,
    periods: int = 0,
    throttled: int = 0,
) -> tuple[Path, Path]:
    write(
        root / "proc/self/cgroup",
        f"12:memory:/{POD}\n11:cpu,cpuacct:/{POD}\n1:name=systemd:/{POD}\n0::/{POD}\n",
    )
    memory = root / "sys/fs/cgroup/memory" / POD
    write(memory / "memory.limit_in_bytes", f"{limit}\n")
    write(memory / "memory.usage_in_bytes", f"{usage}\n")
    write(
        memory / "memory.stat", f"cache 0\ninactive_file 0\ntotal_inactive_file {inactive_file}\n"
    )
    cpu = root / "sys/fs/cgroup/cpu,cpuacct" / POD
    write(cpu / "cpu.cfs_quota_us", f"{quota}\n")
    write(cpu / "cpu.cfs_period_us", "100000\n")
    write(
        cpu / "cpu.stat",
        f"nr_periods {periods}\nnr_throttled {throttled}\nthrottled_time {throttled * 10**7}\n",
    )
    write(cpu / "cpuacct.usage", f"{usage_ns}\n")
    return memory, cpu


# --- memory ---------------------------------------------------------------------------------


async def test_v2_memory_at_95_percent_of_its_limit_is_unhealthy_while_the_host_has_room(
    tmp_path: Path,
) -> None:
    """memory.current at 95 % of memory.max fails the check; the host alone would call it fine."""
    v2_tree(tmp_path, memory_max=str(500 * MiB), current=475 * MiB)
    result = await MemoryCheck(85.0, 95.0, cgroup=Cgroup(tmp_path))()
    assert result.status == HealthStatus.UNHEALTHY
    assert result.details["source"] == "cgroup v2"
    assert result.details["limitBytes"] == 500 * MiB
    assert result.details["percent"] == 95.0
    host = await MemoryCheck(85.0, 95.0)()
    assert host.details["source"] == "host"
    assert psutil.virtual_memory().percent < 95.0  # the host has memory to spare
    assert host.status != HealthStatus.UNHEALTHY


async def test_memory_warns_before_the_limit_and_ignores_droppable_cache(tmp_path: Path) -> None:
    """90 % of the limit degrades; the same usage that is mostly inactive file cache is healthy."""
    own = v2_tree(tmp_path, current=int(512 * MiB * 0.90))
    check = MemoryCheck(85.0, 95.0, cgroup=Cgroup(tmp_path))
    assert (await check()).status == HealthStatus.DEGRADED
    write(own / "memory.stat", f"inactive_file {300 * MiB}\n")
    result = await check()
    assert result.status == HealthStatus.HEALTHY
    assert result.details["workingSetBytes"] == int(512 * MiB * 0.90) - 300 * MiB


async def test_v1_memory_against_its_limit(tmp_path: Path) -> None:
    """v1: usage_in_bytes less total_inactive_file over limit_in_bytes."""
    v1_tree(tmp_path, usage=int(512 * MiB * 0.97), inactive_file=MiB)
    result = await MemoryCheck(85.0, 95.0, cgroup=Cgroup(tmp_path))()
    assert result.status == HealthStatus.UNHEALTHY
    assert result.details["source"] == "cgroup v1"
    assert result.details["workingSetBytes"] == int(512 * MiB * 0.97) - MiB


async def test_unlimited_memory_falls_back_to_the_host(tmp_path: Path) -> None:
    """v2 "max" and v1's page-counter maximum mean no limit: the host is the measure."""
    v2_tree(tmp_path / "v2", memory_max="max", current=int(512 * MiB * 0.99))
    v1_tree(tmp_path / "v1", limit=9223372036854771712, usage=int(512 * MiB * 0.99))
    for root in (tmp_path / "v2", tmp_path / "v1"):
        cgroup = Cgroup(root)
        reading = cgroup.memory()
        assert reading is not None and reading.limit_bytes is None
        result = await MemoryCheck(85.0, 95.0, cgroup=cgroup)()
        assert result.details["source"] == "host"


# --- CPU ------------------------------------------------------------------------------------


async def test_v2_cpu_follows_cpu_max(tmp_path: Path) -> None:
    """Half a core (cpu.max 50000 100000): 4.8 s of CPU in 10 s is 96 % of the quota; throttling reported."""
    own = v2_tree(tmp_path, cpu_max="50000 100000", usage_usec=1_000_000)
    clock = Clock()
    check = CpuCheck(80.0, 95.0, window=1, cgroup=Cgroup(tmp_path), clock=clock)
    clock.now += 10
    write(
        own / "cpu.stat",
        "usage_usec 5800000\nnr_periods 100\nnr_throttled 80\nthrottled_usec 2000000\n",
    )
    result = await check()
    assert result.status == HealthStatus.UNHEALTHY
    assert result.details["source"] == "cgroup v2"
    assert result.details["quotaCores"] == 0.5
    assert result.details["percent"] == 96.0
    assert result.details["throttledPeriods"] == 80
    assert result.details["throttledRatio"] == 0.8
    assert set(result.details["loadAverage"]) == {"1m", "5m", "15m", "perCore1m"}
    # the same 4.8 s against a 2-core quota is 24 %: healthy
    write(own / "cpu.max", "200000 100000\n")
    clock.now += 10
    write(own / "cpu.stat", "usage_usec 10600000\nnr_periods 200\nnr_throttled 80\n")
    result = await check()
    assert result.status == HealthStatus.HEALTHY
    assert result.details["percent"] == 24.0
    assert result.details["throttledPeriods"] == 0


async def test_v1_cpu_follows_the_cfs_quota(tmp_path: Path) -> None:
    """v1: cpuacct.usage over cfs_quota_us/cfs_period_us cores; 1.7 s in 1 s on 2 cores is 85 %."""
    _, cpu = v1_tree(tmp_path, quota=200_000, usage_ns=0)
    clock = Clock()
    check = CpuCheck(80.0, 95.0, window=1, cgroup=Cgroup(tmp_path), clock=clock)
    clock.now += 1
    write(cpu / "cpuacct.usage", f"{17 * 10**8}\n")
    write(cpu / "cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 30000000\n")
    result = await check()
    assert result.status == HealthStatus.DEGRADED
    assert result.details["source"] == "cgroup v1"
    assert result.details["quotaCores"] == 2.0
    assert result.details["percent"] == 85.0
    assert result.details["throttledRatio"] == 0.3


async def test_cpu_without_a_quota_is_the_host(tmp_path: Path) -> None:
    """cpu.max "max" and cfs_quota_us -1 mean no quota: psutil's host figure."""
    v2_tree(tmp_path / "v2", cpu_max="max 100000")
    v1_tree(tmp_path / "v1", quota=-1)
    for root in (tmp_path / "v2", tmp_path / "v1"):
        result = await CpuCheck(80.0, 95.0, cgroup=Cgroup(root))()
        assert result.details["source"] == "host"


# --- metrics --------------------------------------------------------------------------------


def test_container_metrics_export_throttling_and_limits(tmp_path: Path) -> None:
    """Throttled periods and seconds, quota, memory limit and working set, load average."""
    v1_tree(
        tmp_path,
        usage=300 * MiB,
        inactive_file=100 * MiB,
        usage_ns=42 * 10**9,
        periods=500,
        throttled=120,
    )
    registry = CollectorRegistry()
    registry.register(ContainerCollector(Cgroup(tmp_path)))
    text = generate_latest(registry).decode()
    assert sample(text, "cgroup_cpu_throttled_periods_total") == 120
    assert sample(text, "cgroup_cpu_periods_total") == 500
    assert sample(text, "cgroup_cpu_throttled_seconds_total") == 1.2
    assert sample(text, "cgroup_cpu_usage_seconds_total") == 42
    assert sample(text, "cgroup_cpu_quota_cores") == 2
    assert sample(text, "cgroup_memory_limit_bytes") == 512 * MiB
    assert sample(text, "cgroup_memory_working_set_bytes") == 200 * MiB
    assert sample(text, "system_load_average", period="1m") is not None
    assert sample(text, "system_load_average", period="15m") is not None


def test_unlimited_container_exports_no_limit_series(tmp_path: Path) -> None:
    """No quota, no limit: the usage series stay, the limit series are absent (not a fake 0)."""
    v2_tree(tmp_path, memory_max="max", cpu_max="max 100000")
    registry = CollectorRegistry()
    registry.register(ContainerCollector(Cgroup(tmp_path)))
    text = generate_latest(registry).decode()
    assert sample(text, "cgroup_memory_usage_bytes") == 100 * MiB
    assert sample(text, "cgroup_memory_limit_bytes") is None
    assert sample(text, "cgroup_cpu_quota_cores") is None


# --- this machine ---------------------------------------------------------------------------


def test_reads_this_machines_cgroup() -> None:
    """The real /proc/self/cgroup and /sys/fs/cgroup: the version it names, live usage figures."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    expected = (
        "v1" if any(line.split(":")[1].split(",").count("memory") for line in lines) else "v2"
    )
    cgroup = Cgroup()
    assert cgroup.version == expected
    memory = cgroup.memory()
    assert memory is not None
    assert memory.usage_bytes > 0 and 0 <= memory.working_set_bytes <= memory.usage_bytes
    before, own_before = cgroup.cpu(), time.process_time()
    assert before is not None
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass  # burn CPU inside this cgroup
    after, own = cgroup.cpu(), time.process_time() - own_before
    assert after is not None
    # the cgroup's CPU time includes ours (granularity aside)
    assert after.usage_seconds - before.usage_seconds >= own * 0.8


async def test_the_plugin_exports_this_machines_container_figures() -> None:
    """With system checks on, /metrics carries the cgroup series and the load average."""
    from tests.support.asgi import plugged_app, running

    app, _ = plugged_app(system_checks=True, process_metrics=True, health_details="always")
    async with running(app) as client:
        text = (await client.get("/metrics")).text
        details = (await client.get("/health")).json()["details"]
    assert (sample(text, "cgroup_cpu_usage_seconds_total") or 0) > 0
    assert (sample(text, "cgroup_memory_usage_bytes") or 0) > 0
    assert sample(text, "system_load_average", period="5m") is not None
    reading = Cgroup().memory()
    limited = (
        reading is not None
        and reading.limit_bytes is not None
        and reading.limit_bytes < psutil.virtual_memory().total
    )
    expected = f"cgroup {reading.version}" if limited and reading is not None else "host"
    assert details["memory"]["details"]["source"] == expected
    assert details["cpu"]["details"]["source"] in ("host", "cgroup v1", "cgroup v2")
    assert set(details["cpu"]["details"]["loadAverage"]) == {"1m", "5m", "15m", "perCore1m"}
