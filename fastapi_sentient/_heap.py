"""Keeping the startup heap out of the garbage collector's full collections.

A service holds most of its objects from startup to exit: modules, the app,
its routes, pydantic models, pools.  CPython's full collection walks every
tracked object each time it runs, and a big ``/metrics`` scrape allocates
enough to set one off now and then; that walk grows with the heap and sets the
tail of whatever request is running (figures in docs/performance.md).  ``gc.freeze()``
moves the objects alive at that moment into a generation no collection visits,
so later full collections walk only what was allocated since.

The first freeze in a process collects first, so startup's garbage is freed
rather than frozen; a later lifespan run in the same process (tests run many)
only freezes.
"""

from __future__ import annotations

import gc

_state = {"collected": False}


def freeze_heap() -> int:
    """Freeze every tracked object; returns how many are frozen now."""
    if not _state["collected"]:
        gc.collect()
        _state["collected"] = True
    gc.freeze()
    return gc.get_freeze_count()
