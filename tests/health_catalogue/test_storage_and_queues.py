"""Object storage and message-queue checks: documented HTTP endpoints and real brokers' TCP."""

from __future__ import annotations

import pytest

from fastapi_sentient.health._result import HealthStatus
from fastapi_sentient.health.checks import (
    ObjectStorageCheck,
    TcpCheck,
    amqp_check,
    nats_check,
    nats_health_check,
    rabbitmq_check,
)
from tests.health_catalogue.servers import Scripted
from tests.support.procs import free_port, port_open


def machine_service(port: int, name: str) -> int:
    """The machine's broker port, failing clearly when the broker is not running."""
    if not port_open(port):
        pytest.fail(f"{name} is not listening on 127.0.0.1:{port}")
    return port


@pytest.mark.parametrize(
    ("probe", "code", "status"),
    [
        ("live", 200, HealthStatus.HEALTHY),
        ("live", 429, HealthStatus.DEGRADED),
        ("cluster", 200, HealthStatus.HEALTHY),
        ("cluster", 503, HealthStatus.UNHEALTHY),
        ("cluster/read", 503, HealthStatus.UNHEALTHY),
        ("ready", 200, HealthStatus.HEALTHY),
    ],
)
async def test_minio_probes(
    http_server: Scripted, probe: str, code: int, status: HealthStatus
) -> None:
    """MinIO's live/ready/cluster probes: 200 healthy, 429 degraded, 503 (no quorum) unhealthy."""
    http_server.answer(f"/minio/health/{probe}", code)
    result = await ObjectStorageCheck(http_server.url, probe=probe)()  # type: ignore[arg-type]
    assert result.status == status
    assert http_server.requests[-1] == ("GET", f"/minio/health/{probe}")


async def test_rabbitmq_alarms_check_with_basic_auth(http_server: Scripted) -> None:
    """RabbitMQ's alarms check: ok → healthy; 503 with a reason → unhealthy with that reason."""
    http_server.credentials = ("monitor", "m0nitorpw")
    path = "/api/health/checks/alarms"
    http_server.answer(path, 200, {"status": "ok"})
    check = rabbitmq_check(http_server.url, username="monitor", password="m0nitorpw")
    assert (await check()).status == HealthStatus.HEALTHY
    reason = "There are alarms in effect in the cluster"
    alarms = [{"node": "rabbit@mq1", "resource": "disk"}]
    http_server.answer(path, 503, {"status": "failed", "reason": reason, "alarms": alarms})
    failed = await check()
    assert failed.status == HealthStatus.UNHEALTHY
    assert failed.error == reason
    assert failed.details["alarms"] == alarms
    wrong = rabbitmq_check(http_server.url, username="monitor", password="nope")
    assert (await wrong()).status == HealthStatus.UNHEALTHY


async def test_nats_healthz(http_server: Scripted) -> None:
    """NATS /healthz: 200 ok → healthy; 503 unavailable → unhealthy with the server's error."""
    http_server.answer("/healthz", 200, {"status": "ok"})
    assert (await nats_health_check(http_server.url)()).status == HealthStatus.HEALTHY
    http_server.answer("/healthz", 503, {"status": "unavailable", "error": "JetStream not current"})
    result = await nats_health_check(http_server.url)()
    assert result.status == HealthStatus.UNHEALTHY
    assert result.error == "JetStream not current"


async def test_rabbitmq_speaks_amqp_on_its_port() -> None:
    """The machine's RabbitMQ answers the AMQP 0-9-1 header with Connection.Start."""
    result = await amqp_check("127.0.0.1", machine_service(5672, "RabbitMQ"))()
    assert result.status == HealthStatus.HEALTHY
    assert result.details["port"] == 5672


async def test_nats_greets_with_info() -> None:
    """The machine's NATS server greets a TCP client with INFO."""
    result = await nats_check("127.0.0.1", machine_service(4222, "NATS"))()
    assert result.status == HealthStatus.HEALTHY


async def test_wrong_protocol_on_a_port_is_unhealthy() -> None:
    """Expecting AMQP where NATS listens: connected, but the greeting is wrong."""
    check = TcpCheck("127.0.0.1", machine_service(4222, "NATS"), expect=b"\x01\x00\x00")
    result = await check()
    assert result.status == HealthStatus.UNHEALTHY
    assert result.error is not None
    assert "unexpected greeting" in result.error


async def test_closed_port_raises() -> None:
    """Nothing listening: the connect fails and the check raises."""
    with pytest.raises(OSError):
        await TcpCheck("127.0.0.1", free_port())()
