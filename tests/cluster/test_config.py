"""Shared configuration: compare-and-set, callbacks once per version, convergence."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from fastapi_sentient.cluster import ConfigConflictError
from tests.cluster.conftest import eventually, node, precreate_boot, running
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

CONFIG_KEY = "sentient:{test}:config"
EVENTS_KEY = "sentient:{test}:events"


async def test_concurrent_compare_and_set_has_exactly_one_winner(redis_proc: RedisServer) -> None:
    """Ten concurrent set_config calls expecting the same version: one wins, nine conflict."""
    precreate_boot(redis_proc.port)
    apps = [node(redis_proc.url, name) for name in ("a", "b")]
    async with running(*(app for app, _ in apps)):
        clusters = [s.cluster for _, s in apps]
        assert await clusters[0].get_config() == (0, None)
        results = await asyncio.gather(
            *(clusters[i % 2].set_config({"writer": i}, 0) for i in range(10)),
            return_exceptions=True,
        )
        wins = [r for r in results if isinstance(r, int)]
        conflicts = [r for r in results if isinstance(r, ConfigConflictError)]
        assert wins == [1]
        assert len(conflicts) == 9
        assert {c.current for c in conflicts} == {1}
        version, data = await clusters[1].get_config()
        assert version == 1
        assert data == {"writer": results.index(1)}


async def test_callbacks_fire_once_per_version_and_nodes_converge_without_messages(
    redis_proc: RedisServer,
) -> None:
    """Callbacks see each version once, increasing; a change with no message or stream entry still arrives."""
    precreate_boot(redis_proc.port)
    apps = [node(redis_proc.url, name) for name in ("a", "b")]
    applied: dict[str, list[tuple[int, Any]]] = {"a": [], "b": []}
    for _app, sentient in apps:

        @sentient.cluster.on_config_change
        async def record(version: int, data: Any, name: str = sentient.node_id) -> None:
            applied[name].append((version, data))

    async with running(*(app for app, _ in apps)):
        a, b = (s.cluster for _, s in apps)
        assert await a.set_config({"n": 1}, 0) == 1
        assert await b.set_config({"n": 2}, 1) == 2
        await eventually(lambda: a.config.version == b.config.version == 2, 5)
        # behind the coordinator's back: no stream entry, no message, stream trimmed
        raw = aioredis.Redis(port=redis_proc.port)
        await raw.hset(CONFIG_KEY, mapping={"v": 5, "data": json.dumps({"n": 5})})
        await raw.xtrim(EVENTS_KEY, maxlen=0)
        await raw.aclose()
        await eventually(lambda: a.config.version == b.config.version == 5, 5)
    for name in ("a", "b"):
        versions = [v for v, _ in applied[name]]
        assert versions == sorted(set(versions)), name
        assert versions[-2:] == [2, 5], name
        assert applied[name][-1] == (5, {"n": 5})


async def test_a_wiped_store_restarts_versions(redis_proc: RedisServer) -> None:
    """After the store lost its data, versions count from 1 again and are applied."""
    precreate_boot(redis_proc.port)
    app, sentient = node(redis_proc.url, "a")
    async with running(app):
        cluster = sentient.cluster
        await cluster.set_config({"n": 1}, 0)
        await cluster.set_config({"n": 2}, 1)
        raw = aioredis.Redis(port=redis_proc.port)
        await raw.flushall()
        await raw.aclose()
        await eventually(lambda: cluster.config.version == 0, 5, "the reset to be noticed")
        assert await cluster.set_config({"n": "fresh"}, 0) == 1
        assert cluster.config.version == 1
        assert cluster.config.data == {"n": "fresh"}


async def test_config_must_be_json(redis_proc: RedisServer) -> None:
    """Data that JSON cannot carry is refused before anything is written."""
    precreate_boot(redis_proc.port)
    app, sentient = node(redis_proc.url, "a")
    async with running(app):
        with pytest.raises(TypeError):
            await sentient.cluster.set_config({"when": object()}, 0)
        assert await sentient.cluster.get_config() == (0, None)
