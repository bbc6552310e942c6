"""Shared fixtures: clean settings, app factories, real servers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.redis_server import RedisServer


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SENTIENT_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("SENTIENT_") or name in (
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "KUBERNETES_SERVICE_HOST",
            "PROMETHEUS_MULTIPROC_DIR",
        ):
            monkeypatch.delenv(name, raising=False)
    # The suite builds hundreds of apps in one process: freezing each one's heap
    # would keep every earlier test's garbage forever (tests/test_heap.py turns it on).
    monkeypatch.setenv("SENTIENT_GC_FREEZE", "false")


@pytest.fixture
def redis_proc() -> Iterator[RedisServer]:
    """A throwaway redis-server on a free port."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
