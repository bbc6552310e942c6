"""asyncio's signal-handler and run-queue internals.

Servers that own their signals through ``loop.add_signal_handler`` (hypercorn,
granian's workers) are chained by replacing their handler with ours and
calling theirs after the drain delay.  asyncio has no getter for a registered
handler, and ``asyncio.Handle`` does not expose the callback and arguments it
wraps; the Unix loops keep the handles in ``_signal_handlers`` and each handle
keeps ``_callback`` and ``_args``.

A long render on the event loop steps aside while other work is queued; asyncio
has no public count of the callbacks waiting to run, and its loops keep them in
the ``_ready`` deque.
"""

from __future__ import annotations

import asyncio
import platform
import sys
from typing import Any

from fastapi_sentient.exceptions import LibraryInternalsError

__all__ = ["handle_parts", "ready_count", "signal_handler"]


def _missing(attribute: str, use: str) -> LibraryInternalsError:
    msg = (
        f"Python {platform.python_version()}'s asyncio has no {attribute}, which "
        f"fastapi-sentient reads for {use}; run on a Python version fastapi-sentient supports"
    )
    return LibraryInternalsError(msg)


def signal_handler(loop: asyncio.AbstractEventLoop, sig: int) -> asyncio.Handle | None:
    """The handle registered with ``loop.add_signal_handler(sig, ...)`` (``loop._signal_handlers``).

    None when nothing is registered, or when the loop is not asyncio's own Unix
    loop (uvloop keeps its handlers out of reach): such a loop has nothing we
    can chain, which the caller reports.  asyncio's own Unix loop without the
    mapping raises :class:`LibraryInternalsError`.
    """
    handlers = getattr(loop, "_signal_handlers", None)
    if handlers is None:
        if sys.platform != "win32" and isinstance(loop, asyncio.SelectorEventLoop):
            attribute = "SelectorEventLoop._signal_handlers"
            raise _missing(attribute, "chaining a server's signal handler")
        return None
    handle = handlers.get(sig) if isinstance(handlers, dict) else None
    return handle if isinstance(handle, asyncio.Handle) else None


def handle_parts(handle: asyncio.Handle) -> tuple[Any, tuple[Any, ...]]:
    """The callback and arguments an ``asyncio.Handle`` wraps (``_callback``, ``_args``)."""
    try:
        return handle._callback, tuple(handle._args)  # type: ignore[attr-defined]
    except AttributeError:
        attribute = "Handle._callback/_args"
        raise _missing(attribute, "calling a chained signal handler") from None


def ready_count(loop: asyncio.AbstractEventLoop) -> int | None:
    """How many callbacks wait in the loop's run queue (``loop._ready``).

    None when the loop is not asyncio's own (uvloop keeps its queue out of
    reach): the caller then judges by time alone.  asyncio's own loop without
    the deque raises :class:`LibraryInternalsError`.
    """
    ready = getattr(loop, "_ready", None)
    if ready is None:
        if isinstance(loop, asyncio.BaseEventLoop):
            attribute = "BaseEventLoop._ready"
            raise _missing(attribute, "yielding to queued work during a scrape")
        return None
    return len(ready)
