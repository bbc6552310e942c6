"""A coordinator built from its own inputs alone (no app, no Sentient), and the node id."""

from __future__ import annotations

import dataclasses
import os
import socket

import pytest

from fastapi_sentient._lifecycle import Lifecycle
from fastapi_sentient._redact import Redactor
from fastapi_sentient.cluster import ClusterEvent
from fastapi_sentient.cluster._connection import ClusterConnection
from fastapi_sentient.cluster._node import default_node_id
from fastapi_sentient.cluster._redis_backend import RedisCoordinator
from fastapi_sentient.health._registry import HealthRegistry
from fastapi_sentient.metrics._registry import Metrics
from tests.cluster.conftest import eventually, precreate_boot, settings
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration


def bare(connection: ClusterConnection, node_id: str) -> RedisCoordinator:
    s = settings(connection.endpoint.url, node_id)
    return RedisCoordinator(
        connection=connection,
        owns_connection=False,
        cluster=s.cluster,
        identity=s.identity,
        metrics=Metrics(process_collectors=False),
        health=HealthRegistry(),
        lifecycle=Lifecycle(),
        redactor=Redactor(),
        node_id=lambda: node_id,
        port=lambda: 8123,
    )


async def test_bare_coordinators_on_one_connection_elect_one_leader(
    redis_proc: RedisServer,
) -> None:
    """Two coordinators share a connection; listeners registered directly see one leader."""
    precreate_boot(redis_proc.port)
    connection = ClusterConnection.from_url(redis_proc.url, call_timeout=0.15)
    nodes = [bare(connection, "a"), bare(connection, "b")]
    seen: dict[str, list[ClusterEvent]] = {"a": [], "b": []}
    for coordinator in nodes:
        assert coordinator.on("new_leader", seen[coordinator.node_id].append) is not None
    try:
        for coordinator in nodes:
            await coordinator.start()
        leaders = await eventually(
            lambda: [c.node_id for c in nodes if c.is_leader], what="a leader"
        )
        assert len(leaders) == 1
        await eventually(
            lambda: all(events and events[-1].node_id == leaders[0] for events in seen.values()),
            what="both nodes to observe the leader",
        )
        members = await nodes[0].members()
        assert sorted(m.node_id for m in members) == ["a", "b"]
        assert {m.port for m in members} == {8123}
    finally:
        for coordinator in nodes:
            await coordinator.stop()
        await connection.aclose()


async def test_on_rejects_unknown_events(redis_proc: RedisServer) -> None:
    """Direct registration checks the event type as the decorator does."""
    connection = ClusterConnection.from_url(redis_proc.url, call_timeout=0.15)
    with pytest.raises(ValueError, match="unknown cluster event"):
        bare(connection, "a").on("elected_leader", lambda _event: None)
    await connection.aclose()


def test_the_default_node_id_is_host_port_pid_unless_configured() -> None:
    """One function names the process: the configured id, else host:port:pid (port 0 unknown)."""
    identity = settings(None, "x").identity
    assert default_node_id(identity, 9000) == "x"
    unnamed = dataclasses.replace(identity, node_id=None)
    host, pid = socket.gethostname(), os.getpid()
    assert default_node_id(unnamed, 9000) == f"{host}:9000:{pid}"
    assert default_node_id(unnamed, None) == f"{host}:0:{pid}"
