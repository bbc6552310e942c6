"""What a health check says: a status and a timestamped result record."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class HealthStatus(enum.StrEnum):
    """The four states; ``unknown`` means "not checked yet" and is not ready."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"

    @property
    def gauge_value(self) -> float:
        """The value of ``health_check_status``: 1 healthy, 0.5 degraded, 0 otherwise."""
        return _GAUGE[self]


_GAUGE = {
    HealthStatus.HEALTHY: 1.0,
    HealthStatus.DEGRADED: 0.5,
    HealthStatus.UNHEALTHY: 0.0,
    HealthStatus.UNKNOWN: 0.0,
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class CheckResult:
    """One run of a check.

    A check function may return one of these to report ``degraded`` or to attach
    details (pool statistics, provider states); returning ``None`` means healthy
    and raising means unhealthy.  ``response_time`` and ``timestamp`` are filled
    in by the registry, so a check only sets what it knows.
    """

    status: HealthStatus = HealthStatus.HEALTHY
    timestamp: datetime = field(default_factory=_now)
    response_time: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the camelCase field names the ``/health`` body promises."""
        return {
            "status": self.status.value,
            "timestamp": self.timestamp.isoformat(),
            "responseTime": round(self.response_time, 6),
            "details": self.details,
            "error": self.error,
            "metadata": self.metadata,
        }


def aggregate(statuses: list[HealthStatus]) -> HealthStatus:
    """Worst status wins: any unhealthy → unhealthy, else any degraded → degraded.

    ``unknown`` (a check that has not run yet) counts as not ready, so it wins
    over healthy but not over a known failure.
    """
    if HealthStatus.UNHEALTHY in statuses:
        return HealthStatus.UNHEALTHY
    if HealthStatus.UNKNOWN in statuses:
        return HealthStatus.UNKNOWN
    if HealthStatus.DEGRADED in statuses:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY
