"""Holding back signals that a foreign event loop (uvloop) reads from Python's wakeup fd.

asyncio's own loop keeps its signal handlers where they can be chained
(``_compat/asyncio.py``).  uvloop keeps them out of reach: its
``add_signal_handler`` installs a Python-level handler that only notes the
signal, and runs the registered callback when the signal's number arrives on
the file descriptor it gave ``signal.set_wakeup_fd``.  granian's workers, and
hypercorn's uvloop worker, register their shutdown that way — so replacing the
Python-level handler alone would not delay their shutdown at all.

So for such a loop we take the wakeup fd over: signal numbers are written to a
socket of ours, the chained signals are handed to the drain, every other one is
passed straight on, and a chained signal is passed on to the loop's own fd when
the drain delay is over.  The loop then runs the server's callback as if the
signal had just arrived.

uvloop sets the wakeup fd afresh each time the loop starts running, and gives
the previous one back when it stops.  granian runs the lifespan startup and the
serving in two runs of its loop, so the takeover is checked every
:data:`REARM_SECONDS` and renewed when the loop has put its own fd back: a
signal in the first moments of a new run of the loop reaches the server
undelayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger("fastapi_sentient.signals")

#: How often the takeover of the wakeup fd is checked (the loop resets it between runs).
REARM_SECONDS = 0.1


def owned_by_loop(loop: asyncio.AbstractEventLoop, sig: int) -> bool:
    """Whether ``sig``'s Python-level handler belongs to ``loop`` (uvloop's way of owning it)."""
    return getattr(signal.getsignal(sig), "__self__", None) is loop


def _noted(_signum: int, _frame: FrameType | None) -> None:
    """The Python-level handler while we relay: the number already went to our socket."""


class WakeupRelay:
    """Takes over the wakeup fd; hands ``signals`` to ``on_signal``, passes everything else on."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        signals: set[int],
        on_signal: Callable[[int], None],
    ) -> None:
        self.loop = loop
        self.signals = frozenset(signals)
        self._on_signal = on_signal
        self._loop_fd = -1
        self._python_handlers: dict[int, object] = {}
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None
        self._timer: asyncio.TimerHandle | None = None

    def install(self) -> bool:
        """Put our socket in front of the loop's; False when the loop has no wakeup fd."""
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        if previous < 0:
            signal.set_wakeup_fd(previous)
            reader.close()
            writer.close()
            return False
        self._loop_fd, self._reader, self._writer = previous, reader, writer
        for sig in self.signals:
            # the loop's Python-level handler would note the signal for its next read of
            # its own fd, and run the server's callback then; ours notes nothing
            self._python_handlers[sig] = signal.getsignal(sig)
            signal.signal(sig, _noted)
        self.loop.add_reader(reader.fileno(), self._read)
        self._timer = self.loop.call_later(REARM_SECONDS, self._rearm)
        return True

    @property
    def armed(self) -> bool:
        """Whether signals are written to our socket now."""
        if self._writer is None:
            return False
        current = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(current, warn_on_full_buffer=False)
        return current == self._writer.fileno()

    def _rearm(self) -> None:
        """Take the wakeup fd back if the loop set its own (a new run of the loop)."""
        if self._writer is None:
            return
        ours = self._writer.fileno()
        current = signal.set_wakeup_fd(ours, warn_on_full_buffer=False)
        if current not in (ours, -1):
            self._loop_fd = current
        self._timer = self.loop.call_later(REARM_SECONDS, self._rearm)

    def _read(self) -> None:
        assert self._reader is not None
        try:
            data = self._reader.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        for signum in data:
            if not signum:
                continue
            if signum in self.signals:
                self._on_signal(signum)
            else:
                self.forward(signum)

    def forward(self, signum: int) -> None:
        """Hand ``signum`` to the loop, which runs the handler the server registered."""
        if self._loop_fd < 0:
            return
        try:
            os.write(self._loop_fd, bytes([signum]))
        except OSError:
            logger.exception("could not pass signal %d on to the event loop", signum)

    def uninstall(self) -> None:
        """Give the loop its wakeup fd and Python-level handlers back."""
        if self._reader is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        assert self._writer is not None
        current = signal.set_wakeup_fd(-1)
        if current != self._writer.fileno():
            signal.set_wakeup_fd(current, warn_on_full_buffer=False)  # not ours any more
        else:
            with contextlib.suppress(ValueError, OSError):  # the loop's may be closed
                signal.set_wakeup_fd(self._loop_fd, warn_on_full_buffer=False)
        for sig, handler in self._python_handlers.items():
            if signal.getsignal(sig) is _noted:
                signal.signal(sig, handler)  # type: ignore[arg-type]
        self._python_handlers.clear()
        if not self.loop.is_closed():
            with contextlib.suppress(Exception):
                self.loop.remove_reader(self._reader.fileno())
        self._reader.close()
        self._writer.close()
        self._reader = self._writer = None
        self._loop_fd = -1
