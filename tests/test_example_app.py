"""The example service, as `make run` serves it (SQLite, single node, no keys)."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from tests.support.procs import app_process

pytestmark = pytest.mark.integration


def test_make_run_configuration_serves_every_route(tmp_path: Path) -> None:
    """Ready with embedded defaults; notes round-trip through SQLite; templated metrics; /chat says no provider."""
    env = {
        "SENTIENT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'example.db'}",
        "SENTIENT_HEALTH_DETAILS": "always",
    }
    with (
        app_process("example_app.main:app", env=env) as proc,
        httpx2.Client(base_url=proc.url, timeout=10) as client,
    ):
        assert client.get("/ready").json() == {"status": "ready"}
        assert client.post("/api/agents/a1/notes", json={"body": "remember"}).status_code == 201
        assert client.get("/api/agents/a1/notes").json() == ["remember"]
        assert client.get("/api/agents/a2/notes").json() == []
        root = client.get("/").json()
        assert root["leader"] is True
        details = client.get("/health").json()["details"]
        # system checks follow the (shared, busy) machine; the service's own checks must pass
        own = {name: d["status"] for name, d in details.items() if d["type"] != "system"}
        assert own == {
            "model_cache": "healthy",
            "db": "healthy",
            "cluster": "healthy",
            "dependency:vector-db": "healthy",
        }
        tool = client.get("/api/agents/a1/tools/search", params={"q": "circuit breaker"})
        body = tool.json()
        assert (body["index"][0], body["web"]) == ("doc-breaker", None)
        text = client.get("/metrics").text
    assert 'route="/api/agents/{agent_id}/notes"' in text
    assert "db_pool_" in text
    assert 'dependency_requests_total{dependency="vector-db",outcome="success"' in text
