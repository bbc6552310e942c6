"""Taking turns with the rest of the event loop during a long render.

A 10k-series scrape is milliseconds of Python on the loop the requests share.
Rendering it in a thread would not help them (the thread holds the GIL for the
interpreter's switch interval whenever the loop's thread wants it back), so the
render runs on the loop in short slices.  A fixed pause after each slice makes
an idle process render at a fraction of its speed, and no pause at all makes a
request that arrives mid-scrape wait a slice at every step it takes (asyncio
runs a task that yielded before the I/O callbacks of the next turn).  So after
each slice the render steps aside for as long as other work is queued or just
ran, and carries on as soon as a turn of the loop comes back empty: a request
waits for at most the one slice that was running when it arrived, and an idle
process renders at nearly full speed.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

from fastapi_sentient._compat.asyncio import ready_count

#: Longest stretch the render holds the loop before it looks for other work.
SLICE_SECONDS = 0.00025
#: A turn of the loop that took longer than this ran someone else's work (an idle
#: turn is a few microseconds): the only signal on loops whose queue we cannot read.
BUSY_TURN_SECONDS = 0.00005
#: Longest the render steps aside at once, so a saturated process still finishes
#: its scrape (the render keeps at least a fifth of the loop).
LONGEST_PAUSE_SECONDS = 0.002


class Turns:
    """One render's slices: :meth:`due` when the slice is spent, then :meth:`step_aside`."""

    def __init__(self, slice_seconds: float | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._slice = SLICE_SECONDS if slice_seconds is None else slice_seconds
        self._deadline = perf_counter() + self._slice
        self.pauses = 0

    def due(self) -> bool:
        """Whether this slice has used its time."""
        return perf_counter() >= self._deadline

    async def step_aside(self) -> None:
        """Let other work run until a turn of the loop comes back empty (or the cap)."""
        self.pauses += 1
        give_up = perf_counter() + LONGEST_PAUSE_SECONDS
        while True:
            started = perf_counter()
            await asyncio.sleep(0)
            now = perf_counter()
            busy = now - started > BUSY_TURN_SECONDS or bool(ready_count(self._loop))
            if not busy or now >= give_up:
                break
        self._deadline = perf_counter() + self._slice
