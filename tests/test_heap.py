"""The startup heap is frozen out of full garbage collections (SENTIENT_GC_FREEZE)."""

from __future__ import annotations

import gc

from tests.support.asgi import plugged_app, running


async def test_startup_freezes_the_heap() -> None:
    """After startup every object then alive is frozen; the app is among them."""
    gc.unfreeze()
    app, _ = plugged_app(gc_freeze=True)
    try:
        async with running(app) as client:
            frozen = gc.get_freeze_count()
            assert frozen > 0
            assert (await client.get("/ready")).status_code == 200
            # what a request allocates afterwards is not frozen with it (frozen objects
            # that die leave the frozen generation, so the count can only fall)
            assert gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()


async def test_gc_freeze_can_be_turned_off() -> None:
    """SENTIENT_GC_FREEZE=false leaves the collector alone."""
    gc.unfreeze()
    app, sentient = plugged_app(gc_freeze=False)
    assert sentient.settings.gc_freeze is False
    async with running(app):
        assert gc.get_freeze_count() == 0
