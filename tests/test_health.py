"""Health: background checks, hysteresis, real cancellation, single flight, probe contracts."""

from __future__ import annotations

import asyncio

from fastapi_sentient import CheckResult, HealthStatus
from fastapi_sentient._redact import Redactor
from fastapi_sentient.health import HealthRegistry, aggregate
from tests.support.asgi import plugged_app, running


class Switch:
    """A check whose outcome the test flips (a fake dependency of our own)."""

    def __init__(self) -> None:
        self.healthy = True
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if not self.healthy:
            raise ConnectionError("dependency down")


def test_aggregate_follows_the_seed() -> None:
    """Any unhealthy wins, then unknown, then degraded."""
    h, d, u, k = (
        HealthStatus.HEALTHY,
        HealthStatus.DEGRADED,
        HealthStatus.UNHEALTHY,
        HealthStatus.UNKNOWN,
    )
    assert aggregate([h, h]) == h
    assert aggregate([h, d]) == d
    assert aggregate([d, u, h]) == u
    assert aggregate([h, k]) == k
    assert aggregate([]) == h


async def test_hysteresis_fail_after_and_recover_after() -> None:
    """A healthy check turns unhealthy only after fail_after failures and recovers after recover_after."""
    registry = HealthRegistry()
    switch = Switch()
    state = registry.add("dep", switch, fail_after=3, recover_after=2)
    await registry.run(state)
    assert state.status == HealthStatus.HEALTHY
    switch.healthy = False
    await registry.run(state)
    await registry.run(state)
    assert state.status == HealthStatus.HEALTHY
    assert state.last is not None and "dependency down" in (state.last.error or "")
    await registry.run(state)
    assert state.status == HealthStatus.UNHEALTHY
    assert state.consecutive_failures == 3
    switch.healthy = True
    await registry.run(state)
    assert state.status == HealthStatus.UNHEALTHY
    await registry.run(state)
    assert state.status == HealthStatus.HEALTHY
    assert state.last_healthy_at is not None


async def test_timeout_really_cancels_the_check() -> None:
    """A hung check is cancelled at its timeout and reported unhealthy."""
    registry = HealthRegistry()
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    state = registry.add("hang", hang, timeout=0.05)
    result = await registry.run(state)
    assert result.status == HealthStatus.UNHEALTHY
    assert result.error == "timed out after 0.05s"
    assert cancelled.is_set()


async def test_concurrent_refreshes_share_one_run() -> None:
    """Fifty concurrent on-demand refreshes execute the check once."""
    registry = HealthRegistry()
    gate = asyncio.Event()
    calls = 0

    async def slow() -> None:
        nonlocal calls
        calls += 1
        await gate.wait()

    state = registry.add("slow", slow, timeout=5)
    waiters = [asyncio.create_task(registry.run(state)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*waiters)
    assert calls == 1


async def test_hung_check_never_piles_up() -> None:
    """Over many intervals a check that always hangs has at most one run in progress."""
    registry = HealthRegistry()
    active = 0
    peak = 0

    async def hang() -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(3600)
        finally:
            active -= 1

    registry.add("hang", hang, timeout=0.03, interval=0.01)
    await registry.start(lambda coro, name: asyncio.get_running_loop().create_task(coro))
    async with asyncio.timeout(10):
        while registry.checks["hang"].runs < 5:
            await asyncio.sleep(0.01)
    await registry.stop()
    assert peak == 1
    assert active == 0
    assert registry.checks["hang"].runs >= 5


async def test_degraded_result_and_details() -> None:
    """A check may report degraded with details; readiness still passes."""
    registry = HealthRegistry()

    async def warm() -> CheckResult:
        return CheckResult(status=HealthStatus.DEGRADED, details={"lag": 3}, error="slow")

    state = registry.add("warm", warm, critical=True)
    await registry.run(state)
    assert state.status == HealthStatus.DEGRADED
    assert registry.critical_ok()
    assert state.describe()["details"] == {"lag": 3}


async def test_errors_are_redacted() -> None:
    """Passwords in URLs and registered secrets never reach results."""
    redactor = Redactor(["sk-live-abcdef123456"])
    registry = HealthRegistry(redactor=redactor)

    async def leaky() -> None:
        raise ConnectionError(
            "cannot reach postgresql://app:hunter2@db:5432/x with sk-live-abcdef123456"
        )

    state = registry.add("db", leaky)
    result = await registry.run(state)
    assert result.error is not None
    assert "hunter2" not in result.error and "sk-live-abcdef123456" not in result.error
    assert "postgresql://app:***@db:5432/x" in result.error


async def test_ready_follows_critical_check_and_live_does_not() -> None:
    """A failing critical check flips /ready to 503 after fail_after runs; /live stays 200; recovery flips back."""
    app, sentient = plugged_app(health_fail_after=2)
    switch = Switch()
    sentient.health.add("dep", switch, critical=True, interval=0.05, fail_after=2)
    async with running(app) as client:
        assert (await client.get("/ready")).status_code == 200
        switch.healthy = False
        failures_at_flip = None
        for _ in range(3000):
            if (await client.get("/ready")).status_code == 503:
                failures_at_flip = sentient.health.checks["dep"].consecutive_failures
                break
            assert (await client.get("/live")).status_code == 200
            await asyncio.sleep(0.01)
        assert (await client.get("/ready")).status_code == 503
        # flipped at the fail_after-th failed run (one more may land before we read it)
        assert failures_at_flip in (2, 3)
        assert sentient.health.checks["dep"].consecutive_failures >= 2
        assert (await client.get("/live")).status_code == 200
        switch.healthy = True
        for _ in range(200):
            if (await client.get("/ready")).status_code == 200:
                break
            await asyncio.sleep(0.01)
        assert (await client.get("/ready")).status_code == 200


async def test_non_critical_failure_keeps_ready() -> None:
    """A failing non-critical check makes /health unhealthy but leaves /ready 200."""
    app, sentient = plugged_app()
    switch = Switch()
    switch.healthy = False
    sentient.health.add("optional", switch, critical=False)
    async with running(app) as client:
        assert (await client.get("/ready")).status_code == 200
        health = await client.get("/health")
    assert health.status_code == 503
    assert health.json()["unhealthy"] == 1


async def test_health_details_are_gated() -> None:
    """Anonymous callers get status and counts; the bearer token unlocks details; no-store always."""
    app, sentient = plugged_app(health_token="s3cret-token", health_details="authorized")

    async def failing() -> None:
        raise ConnectionError("redis://:pa55word@cache:6379 unreachable")

    sentient.health.add("cache", failing, critical=False)
    async with running(app) as client:
        anonymous = await client.get("/health")
        wrong = await client.get("/health", headers={"authorization": "Bearer nope"})
        authorized = await client.get("/health", headers={"authorization": "Bearer s3cret-token"})
    assert anonymous.headers["cache-control"] == "no-store"
    body = anonymous.json()
    assert {
        "status",
        "timestamp",
        "checks",
        "healthy",
        "degraded",
        "unhealthy",
        "uptime",
        "version",
        "instanceId",
    } <= set(body)
    assert "details" not in body and "details" not in wrong.json()
    details = authorized.json()["details"]["cache"]
    assert details["status"] == "unhealthy"
    assert details["consecutiveFailures"] == 1
    assert "pa55word" not in authorized.text and "s3cret-token" not in authorized.text
    assert "redis://:***@cache:6379" in details["error"]


async def test_crashed_background_loop_fails_live() -> None:
    """A background loop of ours that crashes puts the lifecycle in error and /live answers 503."""
    app, sentient = plugged_app()

    async def crash() -> None:
        raise RuntimeError("loop bug")

    async with running(app) as client:
        assert (await client.get("/live")).status_code == 200
        task = sentient.lifecycle.spawn(crash(), "crasher")
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
        assert (await client.get("/live")).status_code == 503
        assert (await client.get("/health")).json()["status"] == "unhealthy"


async def test_system_checks_are_registered_non_critical() -> None:
    """CPU, memory, disk and event-loop checks run and never gate readiness."""
    app, sentient = plugged_app(system_checks=True, health_details="always")
    async with running(app) as client:
        body = (await client.get("/health")).json()
    assert {"cpu", "memory", "disk", "event_loop"} <= set(body["details"])
    assert not any(
        sentient.health.checks[n].critical for n in ("cpu", "memory", "disk", "event_loop")
    )
    assert "percent" in body["details"]["memory"]["details"]


async def test_readiness_gauge_follows_ready() -> None:
    """readiness_status is 1 while /ready answers 200 and 0 once a critical check fails or draining starts."""
    from tests.support.asgi import sample

    app, sentient = plugged_app()
    switch = Switch()
    state = sentient.health.add("dep", switch, critical=True, interval=60)
    async with running(app) as client:
        assert sample((await client.get("/metrics")).text, "readiness_status") == 1
        switch.healthy = False
        await sentient.health.run(state)
        assert (await client.get("/ready")).status_code == 503
        assert sample((await client.get("/metrics")).text, "readiness_status") == 0
        switch.healthy = True
        await sentient.health.run(state)
        assert sample((await client.get("/metrics")).text, "readiness_status") == 1
        sentient.lifecycle.begin_drain()
        assert sample((await client.get("/metrics")).text, "readiness_status") == 0


async def test_detail_modes_with_a_token() -> None:
    """A token alone unlocks details for its bearer; an explicit never locks them for everyone."""
    header = {"authorization": "Bearer tok-123456"}
    token_only, _ = plugged_app(health_token="tok-123456")
    explicit_never, _ = plugged_app(health_token="tok-123456", health_details="never")
    always, _ = plugged_app(health_details="always")
    async with running(token_only) as client:
        assert "details" in (await client.get("/health", headers=header)).json()
        assert "details" not in (await client.get("/health")).json()
    async with running(explicit_never) as client:
        assert "details" not in (await client.get("/health", headers=header)).json()
    async with running(always) as client:
        assert "details" in (await client.get("/health")).json()


async def test_ready_503_names_failing_critical_checks_only() -> None:
    """A 503 from /ready lists the failing critical checks by name: no errors, no details, small."""
    app, sentient = plugged_app()

    async def leaky() -> None:
        raise ConnectionError("cannot reach postgresql://app:hunter2@db/x")

    sentient.health.add("db", leaky, critical=True)
    sentient.health.add("search", Switch(), critical=True)
    sentient.health.add("optional", leaky, critical=False)
    async with running(app) as client:
        ready = await client.get("/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body == {"status": "not ready", "reason": "critical check failing", "failing": ["db"]}
    assert "hunter2" not in ready.text and "postgresql" not in ready.text
    assert len(ready.content) < 256


async def test_first_failure_obeys_fail_after() -> None:
    """A check failing from boot is not unhealthy before fail_after runs: /health stays 200 meanwhile."""
    app, sentient = plugged_app()
    switch = Switch()
    switch.healthy = False
    state = sentient.health.add("busy_cpu", switch, critical=False, fail_after=3, interval=3600)
    gate = Switch()
    gate.healthy = False
    gated = sentient.health.add("gate", gate, critical=True, fail_after=3, interval=3600)
    async with running(app) as client:
        # startup ran every check once
        assert state.runs == 1 and gated.runs == 1
        assert state.status == HealthStatus.DEGRADED
        assert gated.status == HealthStatus.UNKNOWN  # never healthy: a critical check is not ready
        ready = await client.get("/ready")
        assert ready.status_code == 503 and ready.json()["failing"] == ["gate"]
        gate.healthy = True
        await sentient.health.refresh("gate")
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 200
        await sentient.health.refresh("busy_cpu")
        assert state.status == HealthStatus.DEGRADED
        assert (await client.get("/health")).status_code == 200
        await sentient.health.refresh("busy_cpu")
        assert state.status == HealthStatus.UNHEALTHY
        assert (await client.get("/health")).status_code == 503
        assert (await client.get("/ready")).status_code == 200
