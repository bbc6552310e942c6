"""A real uvicorn process: the last request's span survives SIGTERM, and its logs carry the ids."""

from __future__ import annotations

import json
import signal

import httpx2
import pytest

from tests.support.procs import app_process
from tests.tracing.conftest import INSTRUMENTATIONS, SERVER_SPAN_SCOPES
from tests.tracing.otlp import OtlpReceiver


@pytest.mark.integration
@pytest.mark.parametrize("instrumentation", INSTRUMENTATIONS)
def test_span_of_request_just_before_sigterm_is_delivered(
    receiver: OtlpReceiver, instrumentation: str
) -> None:
    """With a one-minute batch delay only the shutdown flush can export the span."""
    env = {
        "SENTIENT_TRACING_INSTRUMENTATION": instrumentation,
        **receiver.env(),
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
        "OTEL_SERVICE_NAME": "flush-test",
        "SENTIENT_TRACING_ENABLED": "true",
        "SENTIENT_LOG_FORMAT": "json",
        "SENTIENT_SYSTEM_CHECKS": "false",
        "SENTIENT_SHUTDOWN_DELAY": "0",
    }
    with app_process("tests.tracing.apps:app", env) as proc:
        response = httpx2.get(
            proc.url + "/api/v1/items/5", headers={"x-request-id": "ticket-4711"}, timeout=5
        )
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "ticket-4711"
        assert httpx2.get(proc.url + "/tools/grep", timeout=5).json() == {"tool": "grep"}
        assert receiver.snapshot() == []
        proc.signal(signal.SIGTERM)
        assert proc.wait_exit(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
        output = proc.output()

    (span,) = receiver.wait_for(
        lambda spans: [s for s in spans if s.name == "GET /api/v1/items/{item_id}"], timeout=5
    )
    assert span.resource["service.name"] == "flush-test"
    assert span.scope == SERVER_SPAN_SCOPES[instrumentation]
    # FastAPI's own request spans stay off, in the app and in a mounted FastAPI
    # sub-app: one SERVER span per request.
    servers = sorted(s.name for s in receiver.snapshot() if s.kind == "SERVER")
    assert servers == ["GET /api/v1/items/{item_id}", "GET /tools/{tool_id}"]
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    route_line = next(r for r in records if r["message"] == "served item 5")
    assert route_line["trace_id"] == span.trace_id
    assert route_line["span_id"] == span.span_id
    assert route_line["request_id"] == "ticket-4711"
    access = next(
        r for r in records if r["logger"] == "uvicorn.access" and r["url.path"] == "/api/v1/items/5"
    )
    assert access["trace_id"] == span.trace_id
    assert access["request_id"] == "ticket-4711"
    assert access["http.response.status_code"] == 200
    probe = next(r for r in records if r["logger"] == "uvicorn.access")
    assert probe["url.path"] == "/ready"
    assert "trace_id" not in probe
