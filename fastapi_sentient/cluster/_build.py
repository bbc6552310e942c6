"""The coordinator the settings ask for: Redis-backed, or the embedded single node."""

from __future__ import annotations

from typing import Unpack

from fastapi_sentient.cluster._base import Coordinator, CoordinatorInputs
from fastapi_sentient.cluster._embedded import EmbeddedCoordinator


def build_coordinator(
    *,
    redis_url: str | None,
    redis_required: bool,
    shutdown_timeout: float,
    **inputs: Unpack[CoordinatorInputs],
) -> Coordinator:
    """The Redis coordinator when ``SENTIENT_REDIS_URL`` is set, else the embedded one.

    The Redis one opens its own connection (see :mod:`.connection`) and closes
    it at shutdown.
    """
    if not redis_url:
        return EmbeddedCoordinator(shutdown_timeout=shutdown_timeout, **inputs)
    from fastapi_sentient.cluster._connection import ClusterConnection
    from fastapi_sentient.cluster._redis_backend import RedisCoordinator

    connection = ClusterConnection.from_url(redis_url, call_timeout=inputs["cluster"].call_timeout)
    return RedisCoordinator(connection=connection, required=redis_required, **inputs)
