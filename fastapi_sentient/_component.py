"""The shape of a subsystem whose life is bound to the app's lifespan."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Component(Protocol):
    """Pools, the cluster coordinator and the LLM layer: started in order, stopped in reverse.

    ``start`` runs before the user's lifespan (so their resources are usable in
    it) and ``stop`` after it, once in-flight requests have drained.  A required
    resource that cannot start raises :class:`~fastapi_sentient.exceptions.StartupError`
    with a one-line message (secrets masked).
    """

    name: str

    async def start(self) -> None:
        """Open connections, register health checks, start background loops."""

    async def stop(self) -> None:
        """Stop loops and close what ``start`` opened; must not raise."""
