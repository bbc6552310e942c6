"""Nobody outside can drain a pod: real uvicorn processes, raw requests, the shipped manifests."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastapi_sentient import ConfigurationError
from fastapi_sentient.settings import load_settings
from tests.ops.kube import app_container
from tests.ops.kube import objects as kube_objects
from tests.security.http import raw
from tests.support.procs import AppProcess, free_port, wait_until
from tests.support.redis_server import RedisServer

TOKEN = "drain-token-0123456789abcdef"

#: Every spelling and method an attacker tries on the app port.
SPELLINGS = (
    "/drain",
    "/%64rain",
    "/%64%72%61%69%6E",
    "/drain?now=1",
    "/drain/",
    "//drain",
    "/DRAIN",
)
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


def _ready(port: int) -> int:
    return raw(port, "GET", "/ready")[0]


def _lifecycle(port: int) -> str:
    status, body = raw(port, "GET", "/health", {"authorization": f"Bearer {TOKEN}"})
    assert status in (200, 503)
    return str(json.loads(body)["lifecycle"])


@pytest.fixture
def manifest_app(redis_proc: RedisServer, tmp_path: Path) -> Iterator[tuple[AppProcess, int]]:
    """The example app run with the Deployment's command and environment, on free ports."""
    container = app_container(kube_objects()["Deployment"])
    port, management = free_port(), free_port()
    env = {
        **container.literal_env(),
        "SENTIENT_PORT": str(port),
        "SENTIENT_MANAGEMENT_PORT": str(management),
        "SENTIENT_MANAGEMENT_HOST": "127.0.0.1",
        # the shipped 10 s delay only makes the test slower
        "SENTIENT_SHUTDOWN_DELAY": "1",
        # what the cluster fills in from fields and the Secret
        "SENTIENT_VERSION": "0.1.0",
        "SENTIENT_ADVERTISE_HOST": "127.0.0.1",
        "SENTIENT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "SENTIENT_REDIS_URL": redis_proc.url,
        "SENTIENT_HEALTH_TOKEN": TOKEN,
    }
    proc = AppProcess(container.target, env, container.uvicorn_options(), port=port)
    try:
        yield proc.start(), management
    finally:
        proc.stop()


@pytest.mark.integration
def test_shipped_manifest_drains_only_through_its_prestop(
    manifest_app: tuple[AppProcess, int],
) -> None:
    """With the shipped settings no method or spelling drains on the app port, even with the
    token; the preStop hook as shipped (path, port, headers) drains, and SIGTERM then stops."""
    proc, management = manifest_app
    container = app_container(kube_objects()["Deployment"])
    for target in SPELLINGS:
        for method in METHODS:
            for headers in ({}, {"authorization": f"Bearer {TOKEN}"}):
                status, _ = raw(proc.port, method, target, headers)
                assert status in (401, 404, 405, 307), (method, target, status)
    assert _ready(proc.port) == 200
    assert _lifecycle(proc.port) == "running"

    hook = container.spec["lifecycle"]["preStop"]["httpGet"]
    assert container.port_number(hook["port"]) == container.port_number("management")
    headers = {item["name"]: item["value"] for item in hook.get("httpHeaders", [])}
    status, body = raw(management, "GET", hook["path"], headers, timeout=15)
    assert status == 200, body
    assert json.loads(body)["status"] == "draining"
    assert _ready(proc.port) == 503
    assert raw(proc.port, "GET", "/live")[0] == 200
    proc.signal(signal.SIGTERM)
    assert proc.wait_exit(20) in (0, -signal.SIGTERM)


@pytest.mark.integration
def test_app_port_drain_needs_the_token() -> None:
    """Without a management port, /drain on the app port answers 401 to every anonymous or
    wrong-token spelling, 405 to every method but GET, and drains only for GET with the token."""
    env = {
        "SENTIENT_DRAIN_ENDPOINT": "true",
        "SENTIENT_HEALTH_TOKEN": TOKEN,
        "SENTIENT_SHUTDOWN_DELAY": "0.2",
    }
    proc = AppProcess("example_app.main:app", env).start()
    try:
        wrong = (
            {},
            {"authorization": "Bearer nope"},
            {"authorization": TOKEN},
            {"authorization": f"bearer {TOKEN}x"},
        )
        for target in ("/drain", "/%64rain", "/%64%72%61%69%6E", "/drain?x=1"):
            for headers in wrong:
                assert raw(proc.port, "GET", target, headers)[0] == 401, (target, headers)
            for method in METHODS[1:]:
                token = {"authorization": f"Bearer {TOKEN}"}
                assert raw(proc.port, method, target, token)[0] == 405, (method, target)
        assert _ready(proc.port) == 200
        status, _ = raw(proc.port, "GET", "/%64rain", {"authorization": f"Bearer {TOKEN}"})
        assert status == 200
        assert _ready(proc.port) == 503
    finally:
        proc.stop()


@pytest.mark.integration
def test_a_drain_without_sigterm_undoes_itself() -> None:
    """A /drain that no SIGTERM follows within SENTIENT_DRAIN_UNDO_AFTER is undone: /ready
    returns to 200 (and /live stayed 200), so a stray drain never strands the pod."""
    management = free_port()
    env = {
        "SENTIENT_DRAIN_ENDPOINT": "true",
        "SENTIENT_MANAGEMENT_PORT": str(management),
        "SENTIENT_MANAGEMENT_HOST": "127.0.0.1",
        "SENTIENT_SHUTDOWN_DELAY": "0.2",
        "SENTIENT_DRAIN_UNDO_AFTER": "1",
    }
    proc = AppProcess("example_app.main:app", env).start()
    try:
        assert raw(management, "GET", "/drain")[0] == 200
        assert _ready(proc.port) == 503
        lives: list[int] = []

        def back() -> bool:
            lives.append(raw(proc.port, "GET", "/live")[0])
            return _ready(proc.port) == 200

        wait_until(back, 15, 0.05, "readiness after the undo")
        assert set(lives) == {200}
        assert "drain undone" in proc.output()
        # a later real shutdown still drains and stops
        proc.signal(signal.SIGTERM)
        assert proc.wait_exit(20) in (0, -signal.SIGTERM)
    finally:
        proc.stop()


@pytest.mark.integration
def test_management_listener_under_several_workers() -> None:
    """uvicorn --workers 2: every worker shares the management port, which serves the probes
    and /metrics; the app port no longer serves /metrics or /drain."""
    management = free_port()
    env = {
        "SENTIENT_MANAGEMENT_PORT": str(management),
        "SENTIENT_MANAGEMENT_HOST": "127.0.0.1",
        "SENTIENT_DRAIN_ENDPOINT": "true",
    }
    proc = AppProcess("example_app.main:app", env, ["--workers", "2"]).start(timeout=40)
    try:
        wait_until(lambda: raw(management, "GET", "/ready")[0] == 200, 20, 0.05, "management")
        for _ in range(20):
            assert raw(management, "GET", "/live")[0] == 200
        status, body = raw(management, "GET", "/metrics")
        assert status == 200 and b"http_requests_total" in body
        assert raw(management, "GET", "/nope")[0] == 404
        assert raw(proc.port, "GET", "/metrics")[0] == 404
        assert raw(proc.port, "GET", "/drain")[0] == 404
        assert "cannot listen" not in proc.output()
    finally:
        proc.stop()


def test_management_port_must_be_free() -> None:
    """A management port equal to the app port is refused at startup, naming both variables."""
    with pytest.raises(ConfigurationError, match="SENTIENT_MANAGEMENT_PORT must differ"):
        load_settings(management_port=8000, port=8000)


def test_drain_endpoint_alone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """SENTIENT_DRAIN_ENDPOINT=true with neither token nor management port stops startup."""
    monkeypatch.setenv("SENTIENT_DRAIN_ENDPOINT", "true")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert "SENTIENT_DRAIN_ENDPOINT" in message and "SENTIENT_HEALTH_TOKEN" in message
    monkeypatch.setenv("SENTIENT_HEALTH_TOKEN", TOKEN)
    assert load_settings().drain_endpoint


async def test_a_taken_management_port_stops_startup_with_one_line() -> None:
    """A management port another process holds stops startup with a line naming the variable;
    once the lifespan ends, the port is released."""
    import socket

    from asgi_lifespan import LifespanManager
    from fastapi import FastAPI

    from fastapi_sentient import include_plugin
    from fastapi_sentient.exceptions import StartupError

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        settings = load_settings(
            management_port=port, management_host="127.0.0.1", handle_signals=False
        )
        app = FastAPI()
        include_plugin(app, settings)
        with pytest.raises(StartupError, match=f"SENTIENT_MANAGEMENT_PORT={port}"):
            async with LifespanManager(app):
                pass
    finally:
        holder.close()
    app = FastAPI()
    include_plugin(app, settings)
    async with LifespanManager(app):
        # the listener shares this loop: ask from a thread
        assert await asyncio.to_thread(raw_ok, port)
    assert not raw_ok(port)


def raw_ok(port: int) -> bool:
    try:
        return raw(port, "GET", "/live", timeout=2)[0] == 200
    except OSError:
        return False
