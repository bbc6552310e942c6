"""Draining on SIGTERM: readiness goes 503 at once, the server stops later.

uvicorn tells the app nothing before ``lifespan.shutdown``, which arrives only
after every connection has closed — far too late to leave the load balancer
gracefully.  So we chain the server's own handler: the first SIGTERM or SIGINT
flips readiness and sets ``draining`` immediately, traffic keeps being served
for ``SENTIENT_SHUTDOWN_DELAY`` (long enough for endpoints to be removed), and
then the server's handler runs and its graceful shutdown begins.  A second
signal skips the delay.

Servers own their signals in one of two ways, and both can be chained from
lifespan startup, which every server runs after installing its handlers:
uvicorn (alone, with ``--workers``, or inside gunicorn's ``uvicorn-worker``)
uses ``signal.signal``; hypercorn (single process) and granian's workers use
the event loop's ``add_signal_handler``.  On asyncio's own loop we replace that
handler with ours and call it after the delay; uvloop keeps its handlers out of
reach, so there we hold the signal back at the wakeup fd the loop reads it from
(``_wakeup_relay.py``) and pass it on after the delay.  Where the process
running the app receives no signal at all (hypercorn's worker processes: only
its parent handles SIGTERM) nothing can be chained; we say so once at WARNING
level and never announce a delay we cannot keep — the ``preStop`` recipe in
docs/shutdown.md covers that case.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from fastapi_sentient._compat import asyncio as asyncio_compat
from fastapi_sentient._compat.uvicorn import find_server
from fastapi_sentient._lifecycle import Lifecycle
from fastapi_sentient._wakeup_relay import WakeupRelay, owned_by_loop

__all__ = ["SignalDrain", "find_server"]

logger = logging.getLogger("fastapi_sentient.signals")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SignalDrain:
    """Chains SIGTERM/SIGINT to drain first; also backs the optional ``/drain`` endpoint."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        *,
        delay: float,
        drain_timeout: float,
        undo_after: float = 30.0,
        on_undo: Callable[[], None] | None = None,
    ) -> None:
        self.lifecycle = lifecycle
        self.delay = delay
        self.drain_timeout = drain_timeout
        self.undo_after = undo_after
        self._on_undo = on_undo
        self._undo_timer: asyncio.TimerHandle | None = None
        self.drain_started: float | None = None
        self.server: Any = None
        self._previous: dict[int, Any] = {}
        self._loop_previous: dict[int, asyncio.Handle] = {}
        self._relay: WakeupRelay | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pending: tuple[int, FrameType | None] | None = None
        self._signals = 0

    def reset(self) -> None:
        """Forget a previous run's drain (a lifespan may run more than once)."""
        self.drain_started = None
        self._signals = 0
        self._pending = None
        self._timer = None
        self._cancel_undo()

    # --- installation -----------------------------------------------------------------------

    def install(self) -> bool:
        """Chain the current SIGTERM/SIGINT handlers; returns whether anything was chained."""
        if threading.current_thread() is not threading.main_thread():
            logger.debug("not on the main thread: signal draining is off")
            return False
        self._loop = loop = asyncio.get_running_loop()
        relayed: set[int] = set()
        for sig in _SIGNALS:
            handle = asyncio_compat.signal_handler(loop, sig)
            if handle is not None:
                self._loop_previous[sig] = handle
                loop.add_signal_handler(sig, self._handle, sig, None)
                continue
            if owned_by_loop(loop, sig):  # uvloop's add_signal_handler
                relayed.add(sig)
                continue
            previous = signal.getsignal(sig)
            if previous in (signal.SIG_DFL, signal.SIG_IGN, None) or not callable(previous):
                logger.debug("no handler to chain for %s: signal draining is off for it", sig.name)
                continue
            self._previous[sig] = previous
            signal.signal(sig, self._handle)
            self.server = self.server or find_server(previous)
        if relayed:
            relay = WakeupRelay(loop, relayed, lambda signum: self._handle(signum, None))
            if relay.install():
                self._relay = relay
            else:
                logger.debug("the loop owns %s but reads no wakeup fd", sorted(relayed))
        return bool(self._previous or self._loop_previous or self._relay)

    @property
    def chained_sigterm(self) -> bool:
        """Whether SIGTERM reaches us before the server (so the delay can be honoured)."""
        relayed = self._relay is not None and signal.SIGTERM in self._relay.signals
        return relayed or signal.SIGTERM in self._previous or signal.SIGTERM in self._loop_previous

    def uninstall(self) -> None:
        """Put the chained handlers back (only where ours is still installed)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, previous)
        self._previous.clear()
        loop = self._loop
        for sig, handle in self._loop_previous.items():
            if loop is None or loop.is_closed():
                continue
            ours = asyncio_compat.signal_handler(loop, sig)
            if ours is not None and asyncio_compat.handle_parts(ours)[0] == self._handle:
                callback, args = asyncio_compat.handle_parts(handle)
                loop.add_signal_handler(sig, callback, *args)
        self._loop_previous.clear()
        if self._relay is not None:
            self._relay.uninstall()
            self._relay = None
        if self._timer is not None:
            self._timer.cancel()
        self._cancel_undo()

    # --- signal path ------------------------------------------------------------------------

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        self.lifecycle.mark_draining()  # signal-safe: readiness flips before the loop wakes
        loop = self._loop
        if loop is None or loop.is_closed() or self._signals > 1:
            self._forward(signum, frame)
            return
        self._pending = (signum, frame)
        loop.call_soon_threadsafe(self._begin)

    def _begin(self) -> None:
        self._cancel_undo()  # the SIGTERM a /drain announced has come
        self.lifecycle.begin_drain()
        self.drain_started = self.drain_started or time.monotonic()
        remaining = self.remaining_delay()
        logger.info("signal received: serving for %.1fs more before shutdown", remaining)
        assert self._loop is not None
        self._timer = self._loop.call_later(remaining, self._forward_pending)

    def remaining_delay(self) -> float:
        """How much of the drain delay is left (a /drain call may have spent it already)."""
        if self.drain_started is None:
            return self.delay
        return max(0.0, self.delay - (time.monotonic() - self.drain_started))

    def _forward_pending(self) -> None:
        if self._pending is not None:
            signum, frame = self._pending
            self._forward(signum, frame)

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = None
        relay = self._relay
        if relay is not None and signum in relay.signals:
            relay.forward(signum)
            return
        handle = self._loop_previous.get(signum)
        if handle is None and signum not in self._previous:
            handle = next(iter(self._loop_previous.values()), None)
        if handle is not None:
            callback, args = asyncio_compat.handle_parts(handle)
            callback(*args)
            return
        previous = self._previous.get(signum)
        if previous is None:
            previous = next(iter(self._previous.values()), None)
        if callable(previous):
            previous(signum, frame)

    # --- the /drain endpoint ----------------------------------------------------------------

    async def drain_now(self) -> float:
        """Start draining and wait out the delay; returns the seconds waited.

        The SIGTERM that should follow (kubelet sends it when ``preStop``
        returns) is expected within ``undo_after`` seconds of the answer; if it
        does not come, the drain is undone, so a stray call never leaves the
        pod out of the load balancer with ``/live`` still 200.
        """
        first = self.drain_started is None
        if first:
            self.drain_started = time.monotonic()
        self.lifecycle.begin_drain()
        remaining = self.remaining_delay()
        if remaining > 0:
            await asyncio.sleep(remaining)
        if self._signals == 0 and self._undo_timer is None:
            loop = asyncio.get_running_loop()
            self._undo_timer = loop.call_later(self.undo_after, self._undo)
        return remaining

    def _cancel_undo(self) -> None:
        if self._undo_timer is not None:
            self._undo_timer.cancel()
            self._undo_timer = None

    def _undo(self) -> None:
        self._undo_timer = None
        if self._signals or not self.lifecycle.undo_drain():
            return
        self.drain_started = None
        logger.warning(
            "drain undone: no SIGTERM within %gs of /drain (SENTIENT_DRAIN_UNDO_AFTER); "
            "readiness is back",
            self.undo_after,
        )
        if self._on_undo is not None:
            self._on_undo()
