"""Pub/Sub as a doorbell: a new config version or an election wakes the poll loop early.

Messages are at-most-once (lost while disconnected), so nothing depends on
them; the poll loop runs on its interval anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fastapi_sentient.cluster._clock import OutageLog

logger = logging.getLogger("fastapi_sentient.cluster")


async def listen(
    client_factory: Callable[[], Any],
    channel: str,
    wake: asyncio.Event,
    retry: float,
) -> None:
    """Subscribe to ``channel`` and set ``wake`` on every message; reconnect forever."""
    log = OutageLog(logger, "cluster config subscription")
    while True:
        client = client_factory()
        pubsub: Any = None
        try:
            if hasattr(client, "nodes_manager"):  # Redis Cluster: learn the slots first
                await client.initialize()
            pubsub = client.pubsub()
            await pubsub.subscribe(channel)
            log.success()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                if message is not None:
                    wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  the doorbell loop outlives Redis failures
            log.failure(exc)
        finally:
            await _close(pubsub, client)
        await asyncio.sleep(retry)


async def _close(pubsub: Any, client: Any) -> None:
    try:
        async with asyncio.timeout(1.0):
            if pubsub is not None:
                await pubsub.aclose()
            await client.aclose()
    except Exception:
        logger.debug("closing the config subscription failed", exc_info=True)
