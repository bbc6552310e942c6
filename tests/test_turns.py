"""A long render on the event loop steps aside while other work is queued, and only then."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from fastapi_sentient.metrics import _turns as turns_module
from fastapi_sentient.metrics._turns import Turns


async def _render(events: list[str], pieces: int) -> int:
    turns = Turns(slice_seconds=0.0)  # every piece spends its slice
    for _ in range(pieces):
        events.append("render")
        if turns.due():
            await turns.step_aside()
    return turns.pauses


async def _request(events: list[str], steps: int, work_seconds: float = 0.0) -> None:
    for _ in range(steps):
        if work_seconds:
            until = time.perf_counter() + work_seconds
            while time.perf_counter() < until:  # a step of CPU work, as a request's handler
                pass
        events.append("request")
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def _no_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cap on a pause, so a slow machine cannot end one early."""
    monkeypatch.setattr(turns_module, "LONGEST_PAUSE_SECONDS", 3600.0)


async def test_a_request_runs_all_its_steps_before_the_next_slice() -> None:
    """Queued work runs to completion between two slices: it waits for one slice, not one per step."""
    events: list[str] = []
    render = asyncio.create_task(_render(events, 5))
    request = asyncio.create_task(_request(events, 20))
    assert await render == 5
    await request
    assert events == ["render"] + ["request"] * 20 + ["render"] * 4


async def _busy_request_during_a_render() -> list[str]:
    """A render of 4 pieces and a request of 5 steps of CPU work, each longer than a busy turn."""
    events: list[str] = []
    render = asyncio.create_task(_render(events, 4))
    request = asyncio.create_task(
        _request(events, 5, work_seconds=4 * turns_module.BUSY_TURN_SECONDS)
    )
    await render
    await request
    return events


async def test_on_a_loop_whose_queue_is_hidden_busy_turns_are_told_by_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a readable run queue (uvloop), a turn that ran work keeps the render aside."""
    monkeypatch.setattr(turns_module, "ready_count", lambda loop: None)
    events = await _busy_request_during_a_render()
    assert events == ["render"] + ["request"] * 5 + ["render"] * 3


async def test_a_loop_that_never_idles_still_lets_the_render_finish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Work that is always queued cannot starve the render: each pause ends at its cap."""
    monkeypatch.setattr(turns_module, "LONGEST_PAUSE_SECONDS", 0.001)
    events: list[str] = []
    stop = asyncio.Event()

    async def spin() -> None:
        while not stop.is_set():
            events.append("spin")
            await asyncio.sleep(0)

    spinner = asyncio.create_task(spin())
    await asyncio.sleep(0)
    assert await _render(events, 3) == 3
    stop.set()
    await spinner
    renders = [index for index, event in enumerate(events) if event == "render"]
    assert len(renders) == 3
    assert all(second - first > 1 for first, second in itertools.pairwise(renders))


def test_on_uvloop_a_request_still_runs_all_its_steps_before_the_next_slice() -> None:
    """uvloop (what uvicorn[standard] runs) hides its queue: time tells the busy turns."""
    import uvloop

    from fastapi_sentient._compat.asyncio import ready_count

    async def scenario() -> list[str]:
        assert ready_count(asyncio.get_running_loop()) is None
        return await _busy_request_during_a_render()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        events = runner.run(scenario())
    assert events == ["render"] + ["request"] * 5 + ["render"] * 3
