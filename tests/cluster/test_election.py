"""Leader election with in-process nodes on a real redis-server (fast timings)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from fastapi_sentient.cluster import ClusterEvent, Leadership, LeadershipLostError
from fastapi_sentient.cluster._clock import clock
from tests.cluster.conftest import FAST, eventually, node, precreate_boot, running
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

LEADER_KEY = "sentient:{test}:leader"


async def test_one_leader_and_step_down_at_the_renew_deadline(redis_proc: RedisServer) -> None:
    """One of two nodes leads; cut off from Redis it cancels its tasks and steps down by its deadline."""
    precreate_boot(redis_proc.port)
    apps = [node(redis_proc.url, f"n{i}") for i in range(2)]
    record: dict[str, Any] = {}

    for _app, sentient in apps:

        @sentient.cluster.leader_task
        async def work(leadership: Leadership, sentient: Any = sentient) -> None:
            record.setdefault("started", []).append((sentient.node_id, leadership.epoch))
            try:
                await asyncio.Event().wait()
            finally:
                record["cancelled_at"] = clock()
                record["valid_at_cancel"] = leadership.valid

    async with running(*(app for app, _ in apps)):
        clusters = [s.cluster for _, s in apps]
        await eventually(lambda: sum(c.is_leader for c in clusters) == 1, 10, "a leader")
        leader = next(c for c in clusters if c.is_leader)
        assert leader.epoch is not None and leader.epoch >= 1
        assert record["started"] == [(leader.node_id, leader.epoch)]
        lead = leader.leadership
        assert lead is not None
        deadline = lead.valid_until  # measured from before the last successful renew
        redis_proc.pause()
        try:
            await eventually(lambda: "cancelled_at" in record, FAST["lease_ttl"] + 2)
            assert record["cancelled_at"] <= deadline + 0.2  # scheduling slack on a busy box
            assert record["valid_at_cancel"] is False
            assert not leader.is_leader
            assert leader.epoch is None
            with pytest.raises(LeadershipLostError):
                lead.ensure()
        finally:
            redis_proc.resume()
        await eventually(lambda: sum(c.is_leader for c in clusters) == 1, 10, "a leader again")


async def test_shutdown_releases_the_lease_only_after_leader_tasks_stopped(
    redis_proc: RedisServer,
) -> None:
    """Shutdown releases the lease only after leader tasks finished; the next leader follows at once."""
    precreate_boot(redis_proc.port)
    first_app, first = node(redis_proc.url, "first")
    second_app, second = node(redis_proc.url, "second")
    probe = aioredis.Redis(port=redis_proc.port)
    seen: dict[str, Any] = {}

    @first.cluster.leader_task
    async def work(leadership: Leadership) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            seen["lease_at_exit"] = await probe.exists(LEADER_KEY)

    elected: list[tuple[float, str]] = []
    second.cluster.on("elected")(lambda e: elected.append((time.monotonic(), str(e.node_id))))
    async with running(first_app):
        await eventually(lambda: first.cluster.is_leader, 10, "first to lead")
        async with running(second_app):
            await asyncio.sleep(0)
            t_stop = time.monotonic()
            await LifespanStop(first_app).stop()
            assert seen["lease_at_exit"] == 1  # still held while the task was finishing
            await eventually(lambda: elected, 5, "second to lead")
            assert elected[0][0] - t_stop < FAST["lease_ttl"]
    await probe.aclose()


class LifespanStop:
    """Stop one app's lifespan from inside ``running`` (the context exit is then a no-op)."""

    def __init__(self, app: Any) -> None:
        self.sentient = app.state.sentient

    async def stop(self) -> None:
        await self.sentient.cluster.stop()


async def test_events_and_metrics_follow_leadership(redis_proc: RedisServer) -> None:
    """elected / new_leader / stopped_leading are emitted and the cluster_* metrics follow."""
    precreate_boot(redis_proc.port)
    app, sentient = node(redis_proc.url, "solo")
    events: list[ClusterEvent] = []
    for kind in ("elected", "new_leader", "stopped_leading"):
        sentient.cluster.on(kind)(events.append)
    registry = sentient.metrics.registry
    async with running(app):
        await eventually(lambda: sentient.cluster.is_leader, 10)
        assert registry.get_sample_value("cluster_is_leader") == 1
        assert registry.get_sample_value("cluster_leader_changes_total") == 1
    assert [(e.type, e.epoch) for e in events] == [
        ("elected", 1),
        ("new_leader", 1),
        ("stopped_leading", 1),
    ]
    assert events[-1].reason == "shutdown"
    assert registry.get_sample_value("cluster_is_leader") == 0


async def test_a_crashing_leader_task_is_restarted_while_leading(redis_proc: RedisServer) -> None:
    """A leader task that raises is logged and started again after the retry period."""
    precreate_boot(redis_proc.port)
    app, sentient = node(redis_proc.url, "solo")
    runs: list[int] = []

    @sentient.cluster.leader_task
    async def flaky(leadership: Leadership) -> None:
        runs.append(leadership.epoch)
        if len(runs) < 3:
            raise RuntimeError("transient")
        await asyncio.Event().wait()

    async with running(app):
        await eventually(lambda: len(runs) >= 3, 10, "three runs")
        assert sentient.lifecycle.alive


async def test_a_stalled_event_loop_ends_the_term_before_the_next_side_effect(
    redis_proc: RedisServer,
) -> None:
    """After a loop stall past the lease the term is already over; the next term has a higher epoch."""
    precreate_boot(redis_proc.port)
    app, sentient = node(redis_proc.url, "solo")
    after_stall: list[tuple[bool, bool]] = []
    epochs: list[int] = []

    @sentient.cluster.leader_task
    async def stall(leadership: Leadership) -> None:
        epochs.append(leadership.epoch)
        if len(epochs) == 1:
            time.sleep(FAST["lease_ttl"] * 1.5)  # a blocking call in async code
            after_stall.append((leadership.valid, sentient.cluster.is_leader))
        await asyncio.Event().wait()

    async with running(app):
        await eventually(lambda: len(epochs) >= 2, 10, "a second term")
    assert after_stall == [(False, False)]
    assert epochs[1] > epochs[0]
