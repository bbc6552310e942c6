"""In-process cluster nodes on real redis-server processes, with fast timings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import redis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_sentient import Sentient, include_plugin
from fastapi_sentient.settings import SentientSettings

#: Fast timings for in-process tests (the invariants hold: 1.5 > 1.0 > 1.2 × 0.2 > 0.15).
FAST: dict[str, Any] = {
    "lease_ttl": 1.5,
    "renew_deadline": 1.0,
    "retry_period": 0.2,
    "cluster_call_timeout": 0.15,
    "node_ttl": 1.0,
    "heartbeat_interval": 0.2,
}
CLUSTER = "test"


def settings(redis_url: str | None, node_id: str, **overrides: Any) -> SentientSettings:
    """Quiet settings for one in-process node."""
    base: dict[str, Any] = {
        "redis_url": redis_url,
        "node_id": node_id,
        "cluster_name": CLUSTER,
        "system_checks": False,
        "health_details": "always",
        "handle_signals": False,
        "process_metrics": False,
        "redis_critical": False,
        **FAST,
    }
    return SentientSettings(**(base | overrides))


def node(redis_url: str | None, node_id: str, **overrides: Any) -> tuple[FastAPI, Sentient]:
    """An app with the plugin installed as cluster node ``node_id``."""
    app = FastAPI()
    return app, include_plugin(app, settings(redis_url, node_id, **overrides))


def precreate_boot(port: int, cluster: str = CLUSTER) -> None:
    """Mark the dataset as established, so elections do not wait out the first-boot hold-off."""
    client = redis.Redis(port=port)
    client.set(f"sentient:{{{cluster}}}:boot", "established")
    client.close()


@asynccontextmanager
async def running(*apps: FastAPI) -> AsyncIterator[None]:
    """Run the apps' lifespans (startup in order, shutdown in reverse)."""
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(
                LifespanManager(app, startup_timeout=10, shutdown_timeout=10)
            )
        yield


async def eventually(
    condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` on the loop until it returns something truthy."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = condition()
                if value:
                    return value
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
