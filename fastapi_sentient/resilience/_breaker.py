"""A rate-based circuit breaker with a sliding window and bounded half-open probes.

No maintained Python breaker trips on a failure *rate* over a window with a
minimum number of calls, detects slow calls, or bounds half-open probes, so this
is our own (modelled on resilience4j's semantics):

* **closed** — every finished call is a sample in a window of the last
  ``window_size`` calls no older than ``window_seconds``.  Once the window holds
  ``minimum_calls`` samples, a failure rate ≥ ``failure_rate_threshold`` or a
  slow-call rate ≥ ``slow_call_rate_threshold`` opens the breaker.
* **open** — calls are rejected at once with :class:`CircuitOpenError`.  After
  ``open_duration`` a timer moves the breaker to half-open *even with no traffic*,
  so the state gauge and health never show a stale "open".
* **half-open** — exactly ``half_open_calls`` probes are admitted; the rest are
  rejected.  When all probes have finished, their failure rate decides: open
  again or closed.  A probe still running after ``half_open_max_wait`` counts as
  failed (a hung probe must not pin the breaker half-open forever).

Samples from calls admitted in an earlier state are dropped, and a cancelled call
gives its probe slot back.  Throttling (429) is tracked apart from availability:
``throttle(seconds)`` makes the breaker reject with :class:`ThrottledError` until
the dependency's Retry-After has passed.

Every breaker of the codebase is this class: the LLM layer's (one per provider and
model) only changes the errors it raises, through :meth:`CircuitBreaker.open_error`
and :meth:`CircuitBreaker.throttled_error`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from fastapi_sentient.resilience._errors import CircuitOpenError, ThrottledError
from fastapi_sentient.resilience._outcome import Outcome

logger = logging.getLogger("fastapi_sentient.resilience.breaker")


class BreakerState(enum.IntEnum):
    """The value of ``circuit_breaker_state``."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2

    @property
    def label(self) -> str:
        """Lower-case name for logs and labels."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Thresholds and timings of one breaker."""

    failure_rate_threshold: float = 0.5
    slow_call_rate_threshold: float = 1.0
    slow_call_duration: float = 30.0
    window_size: int = 20
    window_seconds: float = 60.0
    minimum_calls: int = 10
    open_duration: float = 30.0
    half_open_calls: int = 1
    half_open_max_wait: float = 120.0

    def __post_init__(self) -> None:
        if not 0 < self.failure_rate_threshold <= 1 or not 0 < self.slow_call_rate_threshold <= 1:
            msg = "breaker rate thresholds must be in (0, 1]"
            raise ValueError(msg)
        if self.minimum_calls < 1 or self.window_size < self.minimum_calls:
            msg = "breaker window_size must be >= minimum_calls >= 1"
            raise ValueError(msg)
        if self.half_open_calls < 1 or self.open_duration <= 0:
            msg = "breaker half_open_calls must be >= 1 and open_duration > 0"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Permit:
    """Admission of one call; hand it back with :meth:`CircuitBreaker.record`."""

    generation: int
    probe: bool
    admitted_at: float


TransitionListener = Callable[["CircuitBreaker", BreakerState, BreakerState], None]


class CircuitBreaker:
    """One breaker: per dependency, or per provider and model for the LLM layer."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._listeners: list[TransitionListener] = [on_transition] if on_transition else []
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._window: deque[tuple[float, bool, bool]] = deque()
        self._open_until = 0.0
        self._throttled_until = 0.0
        self._probes_admitted = 0
        self._probe_results: list[tuple[bool, bool]] = []
        self._probe_started: list[float] = []
        self._timer: asyncio.TimerHandle | None = None

    # --- reading ---------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state, advanced by the clock (OPEN → HALF_OPEN when due)."""
        self._advance()
        return self._state

    def retry_after(self) -> float:
        """Seconds until an open breaker admits a probe (0 when not open)."""
        self._advance()
        if self._state != BreakerState.OPEN:
            return 0.0
        return max(self._open_until - self._clock(), 0.0)

    def snapshot(self) -> dict[str, object]:
        """State and window figures for health details."""
        self._advance()
        samples, failures, slow = self._counts()
        return {
            "state": self._state.label,
            "calls": samples,
            "failureRate": round(failures / samples, 4) if samples else 0.0,
            "slowCallRate": round(slow / samples, 4) if samples else 0.0,
            "retryAfter": round(self.retry_after(), 3),
        }

    def open_error(self, retry_after: float) -> Exception:
        """The error a rejected call raises while the breaker is open (or its probes are taken)."""
        return CircuitOpenError(self.name, retry_after)

    def throttled_error(self, wait: float) -> Exception:
        """The error a call raises while the dependency's Retry-After has not passed."""
        msg = f"{self.name} is rate limited by the dependency for another {wait:.1f}s"
        return ThrottledError(msg, retry_after=wait)

    def add_listener(self, listener: TransitionListener) -> None:
        """Call ``listener(breaker, old, new)`` on every state change."""
        self._listeners.append(listener)

    # --- admission -------------------------------------------------------------------------

    def acquire(self) -> Permit:
        """Admit a call or raise :class:`CircuitOpenError` / :class:`ThrottledError` at once."""
        self._advance()
        now = self._clock()
        if self._state == BreakerState.OPEN:
            raise self.open_error(max(self._open_until - now, 0.0))
        if now < self._throttled_until:
            raise self.throttled_error(self._throttled_until - now)
        if self._state == BreakerState.HALF_OPEN:
            if self._probes_admitted >= self.config.half_open_calls:
                raise self.open_error(0.0)
            self._probes_admitted += 1
            self._probe_started.append(now)
            if self._probes_admitted == 1:
                self._schedule(self.config.half_open_max_wait)
            return Permit(self._generation, probe=True, admitted_at=now)
        return Permit(self._generation, probe=False, admitted_at=now)

    def record(self, permit: Permit, outcome: Outcome, duration: float | None = None) -> None:
        """Report how an admitted call ended."""
        if permit.generation != self._generation:
            return  # admitted before the last transition; its verdict is stale
        now = self._clock()
        elapsed = duration if duration is not None else now - permit.admitted_at
        if permit.probe and permit.admitted_at in self._probe_started:
            self._probe_started.remove(permit.admitted_at)
        if outcome in (Outcome.CANCELLED, Outcome.IGNORED, Outcome.THROTTLED):
            if permit.probe:
                self._probes_admitted -= 1  # give the probe slot back
            return
        failed = outcome == Outcome.FAILURE
        slow = elapsed >= self.config.slow_call_duration
        if permit.probe:
            self._probe_results.append((failed, slow))
            if len(self._probe_results) >= self.config.half_open_calls:
                self._decide_probes()
            return
        self._window.append((now, failed, slow))
        while len(self._window) > self.config.window_size:
            self._window.popleft()
        self._check_window(now)

    def throttle(self, seconds: float) -> None:
        """Reject calls with :class:`ThrottledError` for ``seconds`` (the dependency's Retry-After)."""
        if seconds > 0:
            self._throttled_until = max(self._throttled_until, self._clock() + seconds)

    # --- transitions -----------------------------------------------------------------------

    def force_open(self, seconds: float) -> None:
        """Open for ``seconds`` (a decision shared by another process)."""
        self._advance()
        until = self._clock() + seconds
        if self._state == BreakerState.OPEN:
            self._open_until = max(self._open_until, until)
            self._schedule(self._open_until - self._clock())
            return
        self._transition(BreakerState.OPEN, open_until=until)

    def reset(self) -> None:
        """Close the breaker and forget its window."""
        if self._state != BreakerState.CLOSED:
            self._transition(BreakerState.CLOSED)
        self._window.clear()

    def _counts(self) -> tuple[int, int, int]:
        horizon = self._clock() - self.config.window_seconds
        while self._window and self._window[0][0] < horizon:
            self._window.popleft()
        failures = sum(1 for _, failed, _ in self._window if failed)
        slow = sum(1 for _, _, is_slow in self._window if is_slow)
        return len(self._window), failures, slow

    def _check_window(self, now: float) -> None:
        samples, failures, slow = self._counts()
        if samples < self.config.minimum_calls:
            return
        if (
            failures / samples >= self.config.failure_rate_threshold
            or slow / samples >= self.config.slow_call_rate_threshold
        ):
            self._transition(BreakerState.OPEN, open_until=now + self.config.open_duration)

    def _decide_probes(self) -> None:
        results = self._probe_results
        failures = sum(1 for failed, _ in results if failed)
        slow = sum(1 for _, is_slow in results if is_slow)
        if (
            failures / len(results) >= self.config.failure_rate_threshold
            or slow / len(results) >= self.config.slow_call_rate_threshold
        ):
            self._transition(
                BreakerState.OPEN, open_until=self._clock() + self.config.open_duration
            )
        else:
            self._transition(BreakerState.CLOSED)

    def _advance(self) -> None:
        now = self._clock()
        if self._state == BreakerState.OPEN and now >= self._open_until:
            self._transition(BreakerState.HALF_OPEN)
        elif (
            self._state == BreakerState.HALF_OPEN
            and self._probe_started
            and now - self._probe_started[0] >= self.config.half_open_max_wait
        ):
            self._transition(BreakerState.OPEN, open_until=now + self.config.open_duration)

    def _transition(self, new: BreakerState, *, open_until: float = 0.0) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        self._probes_admitted = 0
        self._probe_results = []
        self._probe_started = []
        self._cancel_timer()
        if new == BreakerState.OPEN:
            self._open_until = open_until
            self._window.clear()
            self._schedule(open_until - self._clock())
        elif new == BreakerState.CLOSED:
            self._window.clear()
        logger.log(
            logging.WARNING if new == BreakerState.OPEN else logging.INFO,
            "circuit %s: %s -> %s",
            self.name,
            old.label,
            new.label,
        )
        for listener in list(self._listeners):
            try:
                listener(self, old, new)
            except Exception:
                logger.exception("circuit breaker listener failed for %s", self.name)

    # --- timers ----------------------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        self._cancel_timer()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the lazy check in ``state`` still advances on time
        self._timer = loop.call_later(max(delay, 0.0) + 0.001, self._advance)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
