"""In-process helpers: an app with the plugin installed and an async client with lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_sentient import Sentient, SentientSettings, include_plugin


def quiet_settings(**overrides: Any) -> SentientSettings:
    """Settings for in-process tests: no system checks or signal chaining unless asked."""
    values: dict[str, Any] = {
        "system_checks": False,
        "handle_signals": False,
        "process_metrics": False,
    }
    values.update(overrides)
    return SentientSettings(**values)


def plugged_app(**overrides: Any) -> tuple[FastAPI, Sentient]:
    """A bare FastAPI app with the plugin installed with quiet settings."""
    app = FastAPI()
    return app, include_plugin(app, quiet_settings(**overrides))


@asynccontextmanager
async def running(app: Any, root_path: str = "") -> AsyncIterator[httpx2.AsyncClient]:
    """Run the app's lifespan and yield a client talking to it in-process."""
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx2.ASGITransport(app=manager.app, root_path=root_path)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{val}"' in head for key, val in labels.items()):
            return float(value)
    return None
