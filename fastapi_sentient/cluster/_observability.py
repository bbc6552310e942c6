"""The coordinator's metrics and its ``cluster`` health check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi_sentient.cluster._model import ClusterHealth, NodeRecord
from fastapi_sentient.health._result import CheckResult, HealthStatus
from fastapi_sentient.metrics._registry import Metrics

NODE_STATUSES = ("healthy", "degraded", "unhealthy", "unknown")


class ClusterMetrics:
    """``cluster_is_leader``, ``cluster_leader_changes_total`` and ``cluster_nodes{status}``."""

    def __init__(self, metrics: Metrics) -> None:
        self.is_leader = metrics.gauge(
            "cluster_is_leader",
            "1 while this process holds the cluster leadership, else 0.",
            multiprocess_mode="livesum",
        )
        self.leader_changes = metrics.counter(
            "cluster_leader_changes_total",
            "Changes of the cluster leader (node or epoch) observed by this process.",
        )
        self.nodes = metrics.gauge(
            "cluster_nodes",
            "Live cluster members by their reported health status.",
            ("status",),
            multiprocess_mode="livemax",
        )
        for status in NODE_STATUSES:
            self.nodes.labels(status).set(0)

    def leading(self, value: bool) -> None:
        """Record whether this process leads."""
        self.is_leader.set(1 if value else 0)

    def members(self, members: list[NodeRecord]) -> None:
        """Record the live members by status (unexpected statuses count as unknown)."""
        counts = dict.fromkeys(NODE_STATUSES, 0)
        for member in members:
            status = member.status if member.status in counts else "unknown"
            counts[status] += 1
        for status, count in counts.items():
            self.nodes.labels(status).set(count)


def cluster_check(
    health: Callable[[], ClusterHealth],
) -> Callable[[], Awaitable[CheckResult | None]]:
    """The ``cluster`` check: unhealthy when Redis is unreachable, degraded without a leader.

    It reads the coordinator's cached view (its loops do the I/O), so running
    it is free and its status changes the moment connectivity does.  Other
    nodes' health shows in the details only: one sick peer must not degrade
    every node that can see it.
    """

    async def check() -> CheckResult:
        view = health()
        if not view.connected:
            status = HealthStatus.UNHEALTHY
        elif view.leader is None:
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.HEALTHY
        error = view.error
        if error is None and status is HealthStatus.DEGRADED and view.leader is None:
            error = "no leader elected yet"
        return CheckResult(status=status, details=view.to_dict(), error=error)

    return check
