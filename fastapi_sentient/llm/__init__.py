"""The LLM provider layer (placeholder registry; providers land next)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi_sentient.sentient import Sentient


class LLMRegistry:
    """Configured LLM providers."""

    name = "llm"

    def __init__(self, sentient: Sentient) -> None:
        self._sentient = sentient

    async def start(self) -> None:
        """Open provider clients and register their health checks."""

    async def stop(self) -> None:
        """Close provider clients."""


def build_llm(sentient: Sentient) -> LLMRegistry:
    """The providers configured by ``sentient.settings``."""
    return LLMRegistry(sentient)
