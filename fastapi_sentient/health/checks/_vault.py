"""HashiCorp Vault (and OpenBao) through the unauthenticated ``GET /v1/sys/health``.

Vault encodes its state in the status code (its documented defaults)::

    200 initialized, unsealed, active        → healthy
    429 unsealed standby                     → healthy by default (standbys forward requests)
    473 performance standby                  → healthy by default (serves reads locally)
    472 disaster-recovery secondary          → unhealthy (does not serve clients)
    474 standby that cannot reach the active → degraded (forwarded requests fail)
    501 not initialised                      → unhealthy
    503 sealed                               → unhealthy
    530 removed from the cluster             → unhealthy

The body's ``initialized``, ``sealed``, ``standby``, ``version`` and
``cluster_name`` are copied into the details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi_sentient.health._result import CheckResult, HealthStatus
from fastapi_sentient.health.checks._http import HttpCheck

if TYPE_CHECKING:
    import httpx2

_BODY_FIELDS = (
    "initialized",
    "sealed",
    "standby",
    "performance_standby",
    "replication_dr_mode",
    "version",
    "cluster_name",
)

#: code → (role, status, error)
_STATES: dict[int, tuple[str, HealthStatus, str | None]] = {
    200: ("active", HealthStatus.HEALTHY, None),
    429: ("standby", HealthStatus.HEALTHY, None),
    473: ("performance_standby", HealthStatus.HEALTHY, None),
    472: ("dr_secondary", HealthStatus.UNHEALTHY, "disaster-recovery secondary: serves no clients"),
    474: ("standby", HealthStatus.DEGRADED, "standby cannot reach the active node"),
    501: ("uninitialized", HealthStatus.UNHEALTHY, "not initialised"),
    503: ("sealed", HealthStatus.UNHEALTHY, "sealed"),
    530: ("removed", HealthStatus.UNHEALTHY, "removed from the cluster"),
}


class VaultCheck(HttpCheck):
    """Vault's seal, initialisation and HA state as a health status.

    Args:
        url: Vault's address, e.g. ``http://127.0.0.1:8200`` (``/v1/sys/health`` is added).
        standby: the status to report for a standby node (429).
        performance_standby: the status for a performance standby (473).
        timeout: time limit of the request, seconds.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8200",
        *,
        standby: HealthStatus = HealthStatus.HEALTHY,
        performance_standby: HealthStatus = HealthStatus.HEALTHY,
        timeout: float = 5.0,
        client: httpx2.AsyncClient | None = None,
    ) -> None:
        base = url.rstrip("/")
        endpoint = base if base.endswith("/v1/sys/health") else base + "/v1/sys/health"
        super().__init__(endpoint, timeout=timeout, client=client, interpret=self._interpret)
        self.standby = standby
        self.performance_standby = performance_standby

    def _interpret(self, response: httpx2.Response) -> CheckResult:
        code = response.status_code
        details: dict[str, Any] = {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            details = {key: body[key] for key in _BODY_FIELDS if key in body}
        role, status, error = _STATES.get(
            code, ("unknown", HealthStatus.UNHEALTHY, f"unexpected HTTP {code}")
        )
        if code == 429:
            status = self.standby
        elif code == 473:
            status = self.performance_standby
        details["role"] = role
        return CheckResult(status=status, error=error, details=details)
