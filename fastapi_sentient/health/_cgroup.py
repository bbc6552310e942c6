"""The container's own CPU and memory limits and usage, read from its cgroup.

psutil reports the host: a pod at its 512 MiB limit on a 64 GiB node reads as
"1 % memory" until the OOM killer ends it.  The kernel's cgroup files carry
what the container may really use.  Both layouts are read: cgroup v2 (one
unified tree, ``0::/path`` in ``/proc/self/cgroup``) and v1 (one tree per
controller, the layout of older nodes and of hybrid hosts).

Every path is taken under ``root`` (``/`` in production), so tests build a fake
tree in a temporary directory instead of patching anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# v1 writes "no limit" as the page counter's maximum rounded to pages (about 2**63).
_V1_UNLIMITED = 2**60

# v1 mount directory names per controller, joint mounts first
_V1_DIRS = {
    "memory": ("memory",),
    "cpu": ("cpu,cpuacct", "cpu"),
    "cpuacct": ("cpu,cpuacct", "cpuacct"),
}


@dataclass(frozen=True, slots=True)
class MemoryUsage:
    """Memory of the container: usage, the working set the kernel cannot drop, and the limit."""

    version: str
    usage_bytes: int
    working_set_bytes: int
    limit_bytes: int | None


@dataclass(frozen=True, slots=True)
class CpuUsage:
    """Cumulative CPU time of the container, its quota and how often it was throttled."""

    version: str
    usage_seconds: float
    quota_cores: float | None
    periods: int
    throttled_periods: int
    throttled_seconds: float


class Cgroup:
    """Reads this process's cgroup (v2 or v1) under ``root``."""

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(root)
        self._v1: dict[str, str] = {}
        self._v2: str | None = None
        try:
            lines = (self.root / "proc/self/cgroup").read_text().splitlines()
        except OSError:
            lines = []  # not Linux, or /proc not mounted: host figures only
        for line in lines:
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            _, controllers, path = parts
            if controllers == "":
                self._v2 = path
            for controller in controllers.split(","):
                if controller:
                    self._v1[controller] = path

    @property
    def version(self) -> str | None:
        """``"v1"`` or ``"v2"`` for the memory controller, None outside any cgroup."""
        if "memory" in self._v1:
            return "v1"
        return "v2" if self._v2_dir() is not None else None

    # --- locating ---------------------------------------------------------------------------

    def _v1_dir(self, controller: str) -> Path | None:
        path = self._v1.get(controller)
        if path is None:
            return None
        for name in _V1_DIRS.get(controller, (controller,)):
            base = self.root / "sys/fs/cgroup" / name
            own = base / path.lstrip("/")
            # inside a container its own cgroup is usually mounted as the root
            for candidate in (own, base):
                if candidate.is_dir():
                    return candidate
        return None

    def _v2_dir(self) -> Path | None:
        if self._v2 is None:
            return None
        base = self.root / "sys/fs/cgroup"
        for candidate in (base / self._v2.lstrip("/"), base):
            if (candidate / "cgroup.controllers").is_file():
                return candidate
        return None

    # --- reading ----------------------------------------------------------------------------

    def memory(self) -> MemoryUsage | None:
        """The container's memory figures, or None when no cgroup is readable."""
        v1 = self._v1_dir("memory")
        if v1 is not None:
            limit = _int(v1 / "memory.limit_in_bytes")
            usage = _int(v1 / "memory.usage_in_bytes")
            if usage is None:
                return None
            stat = _stat(v1 / "memory.stat")
            inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
            return MemoryUsage(
                "v1",
                usage,
                max(0, usage - inactive),
                limit if limit is not None and limit < _V1_UNLIMITED else None,
            )
        v2 = self._v2_dir()
        if v2 is None:
            return None
        usage = _int(v2 / "memory.current")
        if usage is None:
            return None
        inactive = _stat(v2 / "memory.stat").get("inactive_file", 0)
        return MemoryUsage("v2", usage, max(0, usage - inactive), _int(v2 / "memory.max"))

    def cpu(self) -> CpuUsage | None:
        """The container's CPU figures, or None when no cgroup is readable."""
        cpu_dir, acct_dir = self._v1_dir("cpu"), self._v1_dir("cpuacct")
        if cpu_dir is not None or acct_dir is not None:
            quota = _int(cpu_dir / "cpu.cfs_quota_us") if cpu_dir else None
            period = _int(cpu_dir / "cpu.cfs_period_us") if cpu_dir else None
            stat = _stat(cpu_dir / "cpu.stat") if cpu_dir else {}
            usage_ns = _int(acct_dir / "cpuacct.usage") if acct_dir else None
            return CpuUsage(
                "v1",
                (usage_ns or 0) / 1e9,
                quota / period if quota and quota > 0 and period else None,
                stat.get("nr_periods", 0),
                stat.get("nr_throttled", 0),
                stat.get("throttled_time", 0) / 1e9,
            )
        v2 = self._v2_dir()
        if v2 is None:
            return None
        stat = _stat(v2 / "cpu.stat")
        quota_cores = None
        try:
            quota_text, _, period_text = (v2 / "cpu.max").read_text().strip().partition(" ")
            if quota_text != "max" and period_text:
                quota_cores = int(quota_text) / int(period_text)
        except (OSError, ValueError):
            pass
        return CpuUsage(
            "v2",
            stat.get("usage_usec", 0) / 1e6,
            quota_cores,
            stat.get("nr_periods", 0),
            stat.get("nr_throttled", 0),
            stat.get("throttled_usec", 0) / 1e6,
        )


def _int(path: Path) -> int | None:
    """An integer file; None when missing or ``max`` (v2's "no limit")."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _stat(path: Path) -> dict[str, int]:
    """A ``key value`` per line file (memory.stat, cpu.stat)."""
    values: dict[str, int] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values
