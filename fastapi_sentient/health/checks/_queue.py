"""Message queues: RabbitMQ and NATS through their HTTP health endpoints.

For the wire protocols themselves see :func:`~fastapi_sentient.health.checks._tcp.amqp_check`
and :func:`~fastapi_sentient.health.checks._tcp.nats_check`, which need no
management or monitoring port.

* RabbitMQ management API ``GET /api/health/checks/alarms`` (basic auth): 200
  ``{"status": "ok"}``, or 503 ``{"status": "failed", "reason": …, "alarms": […]}``
  when a memory or disk alarm blocks publishers.
* NATS monitoring port ``GET /healthz``: 200 ``{"status": "ok"}``, or 503
  ``{"status": "unavailable", "error": …}`` (e.g. JetStream not current).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi_sentient.health._result import CheckResult, HealthStatus
from fastapi_sentient.health.checks._http import HttpCheck

if TYPE_CHECKING:
    import httpx2


def _body(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _rabbitmq(response: httpx2.Response) -> CheckResult:
    body = _body(response)
    if response.status_code == 200:
        return CheckResult(details={"status": body.get("status", "ok")})
    reason = body.get("reason") or f"HTTP {response.status_code}"
    details: dict[str, Any] = {"status": body.get("status")}
    if "alarms" in body:
        details["alarms"] = body["alarms"]
    return CheckResult(status=HealthStatus.UNHEALTHY, error=str(reason), details=details)


def _nats(response: httpx2.Response) -> CheckResult:
    body = _body(response)
    if response.status_code == 200:
        return CheckResult(details={"status": body.get("status", "ok")})
    error = body.get("error") or f"HTTP {response.status_code}"
    return CheckResult(
        status=HealthStatus.UNHEALTHY, error=str(error), details={"status": body.get("status")}
    )


def rabbitmq_check(
    url: str = "http://127.0.0.1:15672",
    *,
    username: str = "guest",
    password: str = "guest",
    local: bool = False,
    timeout: float = 5.0,
    client: httpx2.AsyncClient | None = None,
) -> HttpCheck:
    """RabbitMQ's alarm health check (cluster-wide, or this node only with ``local``)."""
    path = "local-alarms" if local else "alarms"
    return HttpCheck(
        f"{url.rstrip('/')}/api/health/checks/{path}",
        auth=(username, password),
        timeout=timeout,
        client=client,
        interpret=_rabbitmq,
    )


def nats_health_check(
    url: str = "http://127.0.0.1:8222",
    *,
    js_enabled_only: bool = False,
    timeout: float = 5.0,
    client: httpx2.AsyncClient | None = None,
) -> HttpCheck:
    """NATS's ``/healthz`` on the monitoring port (``-m 8222``)."""
    query = "?js-enabled-only=true" if js_enabled_only else ""
    return HttpCheck(
        f"{url.rstrip('/')}/healthz{query}", timeout=timeout, client=client, interpret=_nats
    )
