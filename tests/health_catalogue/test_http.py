"""HttpCheck against a real loopback HTTP server."""

from __future__ import annotations

import httpx2
import pytest

from fastapi_sentient.health._result import HealthStatus
from fastapi_sentient.health.checks import HttpCheck
from tests.health_catalogue.servers import Scripted
from tests.support.procs import free_port


async def test_expected_code_is_healthy_and_details_mask_credentials(http_server: Scripted) -> None:
    """A 2xx answer is healthy; the URL in the details has its password masked."""
    http_server.answer("/status", 204)
    url = http_server.url.replace("http://", "http://ops:t0psecret@") + "/status"
    result = await HttpCheck(url)()
    assert result.status == HealthStatus.HEALTHY
    assert result.details["statusCode"] == 204
    assert "t0psecret" not in result.details["url"]


async def test_degraded_and_unexpected_codes(http_server: Scripted) -> None:
    """Codes listed as degraded degrade; anything else outside expect is unhealthy."""
    http_server.answer("/busy", 429)
    http_server.answer("/down", 500)
    busy = await HttpCheck(http_server.url + "/busy", degraded=(429,))()
    down = await HttpCheck(http_server.url + "/down")()
    assert busy.status == HealthStatus.DEGRADED
    assert down.status == HealthStatus.UNHEALTHY
    assert down.error is not None
    assert "HTTP 500" in down.error


async def test_head_and_custom_expectations(http_server: Scripted) -> None:
    """method=HEAD is sent as HEAD, and expect may accept non-2xx codes (e.g. 403 = reachable)."""
    http_server.answer("/bucket", 403)
    result = await HttpCheck(http_server.url + "/bucket", method="HEAD", expect=(200, 403))()
    assert result.status == HealthStatus.HEALTHY
    assert http_server.requests[-1] == ("HEAD", "/bucket")


async def test_shared_client_is_used_and_left_open(http_server: Scripted) -> None:
    """A client passed in serves the request and is not closed by the check."""
    http_server.answer("/ok", 200)
    async with httpx2.AsyncClient() as client:
        check = HttpCheck(http_server.url + "/ok", client=client)
        assert (await check()).status == HealthStatus.HEALTHY
        assert not client.is_closed


async def test_refused_connection_raises() -> None:
    """Nothing listening: the check raises, which the registry reports as unhealthy."""
    with pytest.raises(httpx2.ConnectError):
        await HttpCheck(f"http://127.0.0.1:{free_port()}/")()
