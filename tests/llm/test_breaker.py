"""The circuit breaker on its own, with a hand-driven clock."""

from __future__ import annotations

import asyncio

import pytest

from fastapi_sentient.llm._breaker import BreakerConfig, BreakerState, CircuitBreaker
from fastapi_sentient.llm._errors import CircuitOpenError, ThrottledError
from fastapi_sentient.llm._outcome import Outcome


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **config: float) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []
    values = {"minimum_calls": 10, "window_size": 10, "open_duration": 30.0, **config}
    b = CircuitBreaker(
        "t",
        BreakerConfig(**values),  # type: ignore[arg-type]
        clock=clock,
        on_transition=lambda _b, old, new: changes.append((old.label, new.label)),
    )
    return b, changes


def run(b: CircuitBreaker, outcomes: list[Outcome], duration: float = 0.01) -> None:
    for outcome in outcomes:
        b.record(b.acquire(), outcome, duration)


def test_nine_failures_stay_closed_tenth_opens() -> None:
    """Below minimum_calls nothing opens; the tenth failure at 100 % does."""
    clock = Clock()
    b, changes = breaker(clock)
    run(b, [Outcome.FAILURE] * 9)
    assert b.state == BreakerState.CLOSED
    run(b, [Outcome.FAILURE])
    assert b.state == BreakerState.OPEN
    assert changes == [("closed", "open")]


def test_failure_rate_below_threshold_stays_closed() -> None:
    """4 failures in 10 calls (40 % < 50 %) keep it closed; a 5th failing call opens it."""
    clock = Clock()
    b, _ = breaker(clock)
    run(b, [Outcome.SUCCESS] * 6 + [Outcome.FAILURE] * 4)
    assert b.state == BreakerState.CLOSED
    run(b, [Outcome.FAILURE])  # the window of 10 drops a success: 5 of the last 10
    assert b.state == BreakerState.OPEN


def test_client_errors_throttles_and_cancellations_are_not_samples() -> None:
    """Ignored, throttled and cancelled outcomes never count toward the failure rate."""
    clock = Clock()
    b, _ = breaker(clock, minimum_calls=2, window_size=2)
    run(b, [Outcome.IGNORED, Outcome.THROTTLED, Outcome.CANCELLED] * 5)
    assert b.snapshot()["calls"] == 0
    assert b.state == BreakerState.CLOSED


def test_slow_calls_open_it() -> None:
    """Calls slower than slow_call_duration open it at the slow-call rate threshold."""
    clock = Clock()
    b, _ = breaker(
        clock, minimum_calls=4, window_size=4, slow_call_duration=1.0, slow_call_rate_threshold=0.75
    )
    run(b, [Outcome.SUCCESS] * 2, duration=2.0)
    run(b, [Outcome.SUCCESS], duration=0.1)
    assert b.state == BreakerState.CLOSED  # 3 samples: below minimum_calls
    run(b, [Outcome.SUCCESS], duration=2.0)
    assert b.state == BreakerState.OPEN  # 3 of 4 slow: 75 %


def test_old_samples_leave_the_time_window() -> None:
    """Failures older than window_seconds no longer count."""
    clock = Clock()
    b, _ = breaker(clock, minimum_calls=4, window_size=10, window_seconds=10.0)
    run(b, [Outcome.FAILURE] * 3)
    clock.now += 11
    run(b, [Outcome.FAILURE, Outcome.SUCCESS, Outcome.SUCCESS, Outcome.SUCCESS])
    assert b.state == BreakerState.CLOSED


def test_open_rejects_with_retry_after_then_half_opens_on_time() -> None:
    """Open rejects with the time left; after open_duration the state reads half-open."""
    clock = Clock()
    b, changes = breaker(clock, minimum_calls=1, window_size=1)
    run(b, [Outcome.FAILURE])
    clock.now += 10
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.retry_after == pytest.approx(20.0)
    clock.now += 20
    assert b.state == BreakerState.HALF_OPEN
    assert changes == [("closed", "open"), ("open", "half_open")]


def test_half_open_admits_exactly_the_configured_probes() -> None:
    """Half-open admits half_open_calls probes; their successes close it."""
    clock = Clock()
    b, changes = breaker(clock, minimum_calls=1, window_size=1, half_open_calls=3)
    run(b, [Outcome.FAILURE])
    clock.now += 30
    permits = [b.acquire() for _ in range(3)]
    with pytest.raises(CircuitOpenError):
        b.acquire()
    for permit in permits:
        b.record(permit, Outcome.SUCCESS, 0.01)
    assert b.state == BreakerState.CLOSED
    assert changes[-1] == ("half_open", "closed")


def test_failed_probes_reopen_and_cancelled_probe_frees_its_slot() -> None:
    """A cancelled probe gives its slot back; failing probes open the breaker again."""
    clock = Clock()
    b, _ = breaker(clock, minimum_calls=1, window_size=1, half_open_calls=1)
    run(b, [Outcome.FAILURE])
    clock.now += 30
    b.record(b.acquire(), Outcome.CANCELLED, 0.01)
    b.record(b.acquire(), Outcome.FAILURE, 0.01)
    assert b.state == BreakerState.OPEN


def test_hung_probe_counts_as_failure_after_max_wait() -> None:
    """A probe unfinished after half_open_max_wait reopens the breaker."""
    clock = Clock()
    b, _ = breaker(clock, minimum_calls=1, window_size=1, half_open_max_wait=5.0)
    run(b, [Outcome.FAILURE])
    clock.now += 30
    stale = b.acquire()
    clock.now += 6
    assert b.state == BreakerState.OPEN
    b.record(stale, Outcome.SUCCESS, 0.01)  # its verdict arrives too late to count
    assert b.state == BreakerState.OPEN


def test_throttle_rejects_until_retry_after() -> None:
    """After throttle(seconds) calls are rejected as throttled, then admitted again."""
    clock = Clock()
    b, changes = breaker(clock)
    b.throttle(2.0)
    with pytest.raises(ThrottledError) as info:
        b.acquire()
    assert info.value.retry_after == pytest.approx(2.0)
    clock.now += 2.1
    b.acquire()
    assert changes == []


async def test_open_to_half_open_timer_fires_without_traffic() -> None:
    """With a running loop the timer moves OPEN → HALF_OPEN with no call and no state read."""
    changes: list[str] = []
    b = CircuitBreaker(
        "timer",
        BreakerConfig(minimum_calls=1, window_size=1, open_duration=0.05),
        on_transition=lambda _b, _old, new: changes.append(new.label),
    )
    b.record(b.acquire(), Outcome.FAILURE, 0.01)
    for _ in range(200):
        if "half_open" in changes:
            break
        await asyncio.sleep(0.01)
    assert changes == ["open", "half_open"]


def test_invalid_configuration_is_refused() -> None:
    """Thresholds outside (0, 1] or a window smaller than minimum_calls are refused."""
    with pytest.raises(ValueError):
        BreakerConfig(failure_rate_threshold=0)
    with pytest.raises(ValueError):
        BreakerConfig(minimum_calls=10, window_size=5)
