"""Cluster coordination (placeholder: embedded single node; Redis backend lands next)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi_sentient.sentient import Sentient


class Coordinator:
    """Single-node coordinator: always leader, epoch 1."""

    name = "cluster"

    def __init__(self, sentient: Sentient) -> None:
        self.node_id = sentient.node_id
        self.is_leader = True
        self.epoch: int | None = 1

    async def start(self) -> None:
        """Join the cluster."""

    async def stop(self) -> None:
        """Leave the cluster."""


def build_coordinator(sentient: Sentient) -> Coordinator:
    """The coordinator for ``sentient.settings``."""
    return Coordinator(sentient)
