"""docs/pools.md: the main snippet is a working app against SQLite, Redis and a loopback provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.health_catalogue.servers import scripted_server
from tests.support.redis_server import RedisServer

PAGE = Path(__file__).resolve().parents[2] / "docs" / "pools.md"


def first_python_block() -> str:
    return PAGE.read_text().split("```python\n", 1)[1].split("```", 1)[0]


def test_pools_page_example_runs(
    tmp_path: Path, redis_proc: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every route of the page's example answers: DbSession, transaction, RedisClient, http_client."""
    with scripted_server() as provider:
        provider.answer("/v1/models", 200, {"data": [{"id": "gpt-test"}]})
        monkeypatch.setenv("SENTIENT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
        monkeypatch.setenv("SENTIENT_REDIS_URL", redis_proc.url)
        monkeypatch.setenv(
            "SENTIENT_LLM_PROVIDERS",
            json.dumps({"openai": {"kind": "openai", "base_url": provider.url + "/v1"}}),
        )
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
        monkeypatch.setenv("SENTIENT_SYSTEM_CHECKS", "false")
        namespace: dict[str, object] = {"__name__": "pools_page"}
        exec(compile(first_python_block(), "docs/pools.md", "exec"), namespace)
        with TestClient(namespace["app"]) as client:  # type: ignore[arg-type]
            assert client.post("/notes/hello").json() == {"added": "hello"}
            assert client.post("/transfer").json() == {"moved": 1}
            assert client.get("/notes").json() == ["hello!"]
            assert client.get("/hits").json() == {"hits": 1}
            assert client.get("/models").json() == {"data": [{"id": "gpt-test"}]}
            assert client.get("/ready").status_code == 200
