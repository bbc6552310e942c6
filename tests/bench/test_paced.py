"""The open-loop generator keeps its schedule whatever the server does."""

from __future__ import annotations

import pytest

from bench import paced
from tests.support.procs import app_process


@pytest.mark.integration
def test_paced_generator_keeps_offering_requests_while_the_server_holds_them() -> None:
    """Against a route that holds each request 0.3 s, every scheduled request is sent on time."""
    with app_process("bench.apps.slow:app", env={"BENCH_SLOW_SECONDS": "0.3"}) as server:
        result = paced.run(server.port, "/bench/slow", rate=100, seconds=1.0)

    assert result.requests == 100  # a closed loop on the pre-opened connections would manage ~27
    assert result.non_2xx == 0
    assert result.socket_errors == 0
    assert result.connections_opened >= 25  # ~30 requests are held at any time
    assert result.latency_p50_ms is not None
    assert result.latency_p50_ms >= 300
