"""VaultCheck against a loopback server answering Vault's documented /v1/sys/health codes."""

from __future__ import annotations

import pytest

from fastapi_sentient.health._result import HealthStatus
from fastapi_sentient.health.checks import VaultCheck
from tests.health_catalogue.servers import Scripted

BODY = {
    "initialized": True,
    "sealed": False,
    "standby": False,
    "performance_standby": False,
    "replication_dr_mode": "disabled",
    "version": "1.18.2",
    "cluster_name": "vault-cluster-1",
}


@pytest.mark.parametrize(
    ("code", "body", "status", "role"),
    [
        (200, BODY, HealthStatus.HEALTHY, "active"),
        (429, BODY | {"standby": True}, HealthStatus.HEALTHY, "standby"),
        (473, BODY | {"performance_standby": True}, HealthStatus.HEALTHY, "performance_standby"),
        (472, BODY | {"replication_dr_mode": "secondary"}, HealthStatus.UNHEALTHY, "dr_secondary"),
        (474, BODY | {"standby": True}, HealthStatus.DEGRADED, "standby"),
        (
            501,
            BODY | {"initialized": False, "sealed": True},
            HealthStatus.UNHEALTHY,
            "uninitialized",
        ),
        (503, BODY | {"sealed": True}, HealthStatus.UNHEALTHY, "sealed"),
        (530, BODY, HealthStatus.UNHEALTHY, "removed"),
        (500, None, HealthStatus.UNHEALTHY, "unknown"),
    ],
)
async def test_documented_codes_map_to_statuses(
    http_server: Scripted,
    code: int,
    body: dict[str, object] | None,
    status: HealthStatus,
    role: str,
) -> None:
    """Each documented sys/health code gives its status, role and the body's fields."""
    http_server.answer("/v1/sys/health", code, body)
    result = await VaultCheck(http_server.url)()
    assert result.status == status
    assert result.details["role"] == role
    assert result.details["statusCode"] == code
    if body is not None:
        assert result.details["sealed"] == body["sealed"]
        assert result.details["version"] == "1.18.2"
    if status != HealthStatus.HEALTHY:
        assert result.error


async def test_standby_can_be_reported_as_degraded(http_server: Scripted) -> None:
    """A deployment that wants only the active node healthy can say so."""
    http_server.answer("/v1/sys/health", 429, BODY | {"standby": True})
    check = VaultCheck(http_server.url + "/", standby=HealthStatus.DEGRADED)
    assert (await check()).status == HealthStatus.DEGRADED
    assert http_server.requests[-1] == ("GET", "/v1/sys/health")
