"""asyncio signal-handler internals read by fastapi_sentient._compat.asyncio, on a real loop."""

from __future__ import annotations

import asyncio
import signal

import pytest

from fastapi_sentient._compat import asyncio as asyncio_compat
from fastapi_sentient.exceptions import LibraryInternalsError


def _callback(*args: object) -> None:
    pass


async def test_the_handle_a_server_registered_and_what_it_calls() -> None:
    """``add_signal_handler``'s handle is found, with the callback and arguments it was given."""
    loop = asyncio.get_running_loop()
    assert asyncio_compat.signal_handler(loop, signal.SIGUSR2) is None
    loop.add_signal_handler(signal.SIGUSR2, _callback, signal.SIGUSR2, None)
    try:
        handle = asyncio_compat.signal_handler(loop, signal.SIGUSR2)
        assert handle is not None
        assert asyncio_compat.handle_parts(handle) == (_callback, (signal.SIGUSR2, None))
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)
    assert asyncio_compat.signal_handler(loop, signal.SIGUSR2) is None


def test_a_unix_loop_without_the_mapping_fails_loudly() -> None:
    """asyncio's own loop lacking ``_signal_handlers`` raises, naming Python's version."""
    loop = asyncio.new_event_loop()
    handlers = loop._signal_handlers  # type: ignore[attr-defined]
    del loop._signal_handlers  # type: ignore[attr-defined]
    try:
        with pytest.raises(LibraryInternalsError, match=r"^Python 3\.\d+\.\d+'s asyncio has no"):
            asyncio_compat.signal_handler(loop, signal.SIGTERM)
    finally:
        loop._signal_handlers = handlers  # type: ignore[attr-defined]
        loop.close()


def test_a_foreign_loop_has_nothing_to_chain() -> None:
    """A loop that is not asyncio's (uvloop keeps its handlers out of reach) gives None."""

    class ForeignLoop(asyncio.AbstractEventLoop):
        pass

    assert asyncio_compat.signal_handler(ForeignLoop(), signal.SIGTERM) is None


async def test_the_run_queue_counts_the_callbacks_waiting() -> None:
    """``ready_count`` sees callbacks queued with ``call_soon`` and none once they ran."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    before = asyncio_compat.ready_count(loop)
    assert before is not None
    ran: list[int] = []
    for index in range(3):
        loop.call_soon(ran.append, index)
    assert asyncio_compat.ready_count(loop) == before + 3
    await asyncio.sleep(0)
    assert ran == [0, 1, 2]


def test_a_loop_without_its_run_queue_fails_loudly() -> None:
    """asyncio's own loop lacking ``_ready`` raises; a foreign loop gives None."""
    loop = asyncio.new_event_loop()
    ready = loop._ready  # type: ignore[attr-defined]
    del loop._ready  # type: ignore[attr-defined]
    try:
        with pytest.raises(LibraryInternalsError, match=r"BaseEventLoop\._ready"):
            asyncio_compat.ready_count(loop)
    finally:
        loop._ready = ready  # type: ignore[attr-defined]
        loop.close()

    class ForeignLoop(asyncio.AbstractEventLoop):
        pass

    assert asyncio_compat.ready_count(ForeignLoop()) is None
