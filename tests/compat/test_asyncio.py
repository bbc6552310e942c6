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
