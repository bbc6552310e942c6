"""Per-provider HTTP pools (``httpx2.AsyncClient``) registered from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi_sentient.pools.registry import PoolRegistry
    from fastapi_sentient.sentient import Sentient


def register_http_pools(sentient: Sentient, registry: PoolRegistry) -> None:
    """Register one HTTP pool per provider of ``SENTIENT_LLM_PROVIDERS`` (kind ``"http"``)."""
