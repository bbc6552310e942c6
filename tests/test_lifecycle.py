"""Lifecycle: task order, timeouts and force, startup failure, durations."""

from __future__ import annotations

import asyncio

import pytest

from fastapi_sentient._lifecycle import Lifecycle, LifecycleState
from fastapi_sentient.exceptions import StartupError
from tests.support.asgi import plugged_app, running, sample


async def test_tasks_run_by_priority_and_shutdown_survives_failures() -> None:
    """Higher priority first; a failing or hung shutdown task does not stop later ones; force runs."""
    recorded: list[tuple[str, str, str]] = []
    lifecycle = Lifecycle(
        observe=lambda phase, task, result, _s: recorded.append((phase, task, result))
    )
    order: list[str] = []

    @lifecycle.on_startup("low", priority=1)
    async def low() -> None:
        order.append("low")

    @lifecycle.on_startup("high", priority=200)
    async def high() -> None:
        order.append("high")

    async def forced() -> None:
        order.append("forced")

    @lifecycle.on_shutdown("hung", priority=300, timeout=0.05, force=forced)
    async def hung() -> None:
        await asyncio.sleep(3600)

    @lifecycle.on_shutdown("broken", priority=200)
    async def broken() -> None:
        raise RuntimeError("nope")

    @lifecycle.on_shutdown("last", priority=1)
    async def last() -> None:
        order.append("last")

    await lifecycle.run_startup()
    await lifecycle.run_shutdown()
    assert order == ["high", "low", "forced", "last"]
    assert ("shutdown", "hung", "timeout") in recorded
    assert ("shutdown", "broken", "error") in recorded
    assert ("shutdown", "last", "success") in recorded


async def test_failing_startup_task_raises_one_line_and_errors() -> None:
    """A failed startup task names itself and puts the lifecycle in error."""
    lifecycle = Lifecycle()

    @lifecycle.on_startup("migrate")
    async def migrate() -> None:
        raise ConnectionError("db gone")

    with pytest.raises(
        StartupError, match="startup task 'migrate' failed: ConnectionError: db gone"
    ):
        await lifecycle.run_startup()
    assert lifecycle.state == LifecycleState.ERROR
    assert not lifecycle.alive


async def test_startup_task_health_check_and_timeout() -> None:
    """A startup task's own health check must pass, and a slow task is cut at its timeout."""
    lifecycle = Lifecycle()

    async def not_ready() -> bool:
        return False

    @lifecycle.on_startup("seed", health_check=not_ready)
    async def seed() -> None:
        return None

    with pytest.raises(StartupError, match="health check failed"):
        await lifecycle.run_startup()

    slow = Lifecycle()

    @slow.on_startup("slow", timeout=0.05)
    async def too_slow() -> None:
        await asyncio.sleep(3600)

    with pytest.raises(StartupError, match="timed out after 0.05s"):
        await slow.run_startup()


async def test_draining_event_and_listeners_fire_once() -> None:
    """begin_drain sets the event, flips the state and calls listeners exactly once."""
    lifecycle = Lifecycle()
    lifecycle.mark_running()
    calls: list[str] = []
    lifecycle.on_drain(lambda: calls.append("drain"))
    assert lifecycle.begin_drain() is True
    assert lifecycle.begin_drain() is False
    assert lifecycle.draining.is_set()
    assert lifecycle.state == LifecycleState.DRAINING
    assert calls == ["drain"]


async def test_failing_startup_in_app_blocks_ready_and_is_recorded() -> None:
    """Inside an app a failing startup task aborts startup; durations are exported."""
    app, sentient = plugged_app()
    calls: list[str] = []

    @sentient.lifecycle.on_startup("ok")
    async def ok() -> None:
        calls.append("ok")

    @sentient.lifecycle.on_shutdown("bye")
    async def bye() -> None:
        calls.append("bye")

    async with running(app) as client:
        text = (await client.get("/metrics")).text
    assert sample(text, "lifecycle_task_duration_seconds_count", phase="startup", task="ok") == 1
    assert calls == ["ok", "bye"]
    assert sentient.lifecycle.state == LifecycleState.STOPPED

    broken, broken_sentient = plugged_app()

    @broken_sentient.lifecycle.on_startup("explode")
    async def explode() -> None:
        raise RuntimeError("bad config")

    with pytest.raises(StartupError):
        async with running(broken):
            pass
