"""include_plugin: one call, once, before start; lifespans of every shape keep working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from fastapi_sentient import ConfigurationError, Sentient, SentientDep, get_sentient, include_plugin
from tests.support.asgi import quiet_settings, running


def test_returns_handle_on_app_state() -> None:
    """The handle is returned and kept on app.state."""
    app = FastAPI()
    sentient = include_plugin(app, quiet_settings())
    assert isinstance(sentient, Sentient)
    assert app.state.sentient is sentient
    assert get_sentient(app) is sentient


def test_second_call_raises() -> None:
    """Installing twice on one app is a ConfigurationError, not a silent no-op."""
    app = FastAPI()
    include_plugin(app, quiet_settings())
    with pytest.raises(ConfigurationError, match="already"):
        include_plugin(app, quiet_settings())


def test_call_after_start_raises() -> None:
    """Installing on an app that already serves is refused with a clear error."""
    app = FastAPI()
    with TestClient(app) as client:
        client.get("/")
        with pytest.raises(ConfigurationError, match="before the app starts"):
            include_plugin(app, quiet_settings())


def test_invalid_environment_exits_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read from a bad environment stop the process with one line."""
    monkeypatch.setenv("SENTIENT_DRAIN_TIMEOUT", "abc")
    with pytest.raises(SystemExit) as caught:
        include_plugin(FastAPI())
    assert "SENTIENT_DRAIN_TIMEOUT" in str(caught.value.code)
    assert "\n" not in str(caught.value.code)


def test_get_sentient_without_plugin_is_a_clear_error() -> None:
    """get_sentient on a plain app says how to fix it."""
    with pytest.raises(LookupError, match="include_plugin"):
        get_sentient(FastAPI())


async def test_user_lifespan_runs_inside_ours_with_state() -> None:
    """The user's lifespan sees our resources started and its state reaches routes."""
    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        sentient = get_sentient(app)
        seen["state_at_start"] = sentient.lifecycle.state.value
        seen["health_started"] = sentient.health.started
        yield {"db": "user-resource"}
        seen["state_at_exit"] = sentient.lifecycle.state.value

    app = FastAPI(lifespan=lifespan)
    include_plugin(app, quiet_settings())

    @app.get("/state")
    async def state(request: Request, sentient: SentientDep) -> dict[str, Any]:
        return {"db": request.state.db, "same": request.state.sentient is sentient}

    async with running(app) as client:
        assert (await client.get("/state")).json() == {"db": "user-resource", "same": True}
    assert seen["state_at_start"] == "starting"
    assert seen["health_started"] is False  # user startup runs before checks are scheduled
    assert seen["state_at_exit"] == "draining"


@pytest.mark.filterwarnings("ignore:The on_startup and on_shutdown parameters are deprecated")
async def test_on_startup_lists_keep_working() -> None:
    """FastAPI's on_startup/on_shutdown handlers still run under the plugin."""
    calls: list[str] = []

    async def up() -> None:
        calls.append("up")

    async def down() -> None:
        calls.append("down")

    app = FastAPI(on_startup=[up], on_shutdown=[down])
    include_plugin(app, quiet_settings())
    async with running(app) as client:
        assert (await client.get("/ready")).status_code == 200
    assert calls == ["up", "down"]


async def test_app_without_lifespan_gets_ready() -> None:
    """A plain app with no lifespan becomes ready and reports its health."""
    app = FastAPI()
    include_plugin(app, quiet_settings())
    async with running(app) as client:
        assert (await client.get("/ready")).status_code == 200
        assert (await client.get("/live")).status_code == 200


async def test_two_apps_in_one_process_are_independent() -> None:
    """Two apps each get their own plugin, registry and counters."""
    first, second = FastAPI(), FastAPI()
    s1 = include_plugin(first, quiet_settings())
    s2 = include_plugin(second, quiet_settings())
    assert s1.metrics.registry is not s2.metrics.registry

    @first.get("/a")
    async def a() -> str:
        return "a"

    async with running(first) as c1, running(second) as c2:
        await c1.get("/a")
        await c1.get("/a")
        text2 = (await c2.get("/metrics")).text
        text1 = (await c1.get("/metrics")).text
    assert 'route="/a"' in text1
    assert 'route="/a"' not in text2


async def test_endpoints_are_not_in_openapi() -> None:
    """Probe and metrics paths stay out of the OpenAPI schema."""
    app = FastAPI()
    include_plugin(app, quiet_settings())
    async with running(app) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/live", "/ready", "/health", "/metrics"} & set(paths)


async def test_endpoint_paths_are_configurable() -> None:
    """Paths come from settings."""
    app = FastAPI()
    include_plugin(app, quiet_settings(ready_path="/healthz/ready", live_path="/healthz/live"))
    async with running(app) as client:
        assert (await client.get("/healthz/ready")).status_code == 200
        assert (await client.get("/healthz/live")).status_code == 200
        assert (await client.get("/ready")).status_code == 404


async def test_lifespan_can_run_twice() -> None:
    """Running the same app's lifespan a second time starts ready again (test suites do this)."""
    app = FastAPI()
    sentient = include_plugin(app, quiet_settings())
    async with running(app) as client:
        assert (await client.get("/ready")).status_code == 200
    assert sentient.lifecycle.state.value == "stopped"
    async with running(app) as client:
        assert (await client.get("/ready")).status_code == 200
        assert not sentient.lifecycle.draining.is_set()
