"""Connection pools bound to the lifespan (placeholder registry; adapters land next)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi_sentient.sentient import Sentient


class PoolRegistry:
    """Named pools, opened in registration order and closed in reverse."""

    name = "pools"

    def __init__(self, sentient: Sentient) -> None:
        self._sentient = sentient
        self._pools: dict[str, Any] = {}

    async def start(self) -> None:
        """Open every pool."""

    async def stop(self) -> None:
        """Close every pool in reverse order."""


def build_pools(sentient: Sentient) -> PoolRegistry:
    """The pools configured by ``sentient.settings``."""
    return PoolRegistry(sentient)
