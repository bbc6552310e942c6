"""Signals a uvloop loop reads from the wakeup fd are held back and passed on, across runs."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest
import uvloop

from fastapi_sentient import _wakeup_relay
from fastapi_sentient._wakeup_relay import WakeupRelay, owned_by_loop


async def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def test_a_chained_signal_waits_for_us_and_others_pass_straight_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM reaches us, not the server, until forwarded; SIGUSR1 reaches the server at once."""
    monkeypatch.setattr(_wakeup_relay, "REARM_SECONDS", 0.01)
    events: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, events.append, "server SIGTERM")
        loop.add_signal_handler(signal.SIGUSR1, events.append, "server SIGUSR1")
        assert owned_by_loop(loop, signal.SIGTERM)
        relay = WakeupRelay(loop, {signal.SIGTERM}, lambda n: events.append(f"ours {n}"))
        assert relay.install()
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await _until(lambda: bool(events), "the SIGTERM")
            os.kill(os.getpid(), signal.SIGUSR1)
            await _until(lambda: len(events) == 2, "the SIGUSR1")
            assert events == [f"ours {int(signal.SIGTERM)}", "server SIGUSR1"]
            relay.forward(signal.SIGTERM)
            await _until(lambda: len(events) == 3, "the forwarded SIGTERM")
            assert events[-1] == "server SIGTERM"
        finally:
            relay.uninstall()
            loop.remove_signal_handler(signal.SIGTERM)
            loop.remove_signal_handler(signal.SIGUSR1)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


def test_a_new_run_of_the_loop_is_taken_over_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """granian runs the lifespan and the serving in two runs: the second is relayed too."""
    monkeypatch.setattr(_wakeup_relay, "REARM_SECONDS", 0.01)
    events: list[str] = []
    relays: list[WakeupRelay] = []

    async def startup() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, events.append, "server")
        relay = WakeupRelay(loop, {signal.SIGTERM}, lambda n: events.append("ours"))
        assert relay.install()
        assert relay.armed
        relays.append(relay)

    async def serving() -> None:
        relay = relays[0]
        await _until(lambda: relay.armed, "the relay to take the new run's wakeup fd")
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: bool(events), "the SIGTERM")
        assert events == ["ours"]
        relay.forward(signal.SIGTERM)
        await _until(lambda: len(events) == 2, "the forwarded SIGTERM")
        assert events == ["ours", "server"]
        relay.uninstall()
        assert not relay.armed
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(startup())
        loop.run_until_complete(serving())
    finally:
        loop.close()
