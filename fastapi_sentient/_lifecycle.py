"""Startup and shutdown tasks, the lifecycle state and the draining signal.

States move ``starting → running → draining → stopped``; any of them can end in
``error`` (a failed startup task, or a crashed background loop of ours), which
fails ``/live`` so the orchestrator restarts the process.  Tasks run by
priority, higher first, each under its own time limit: a hung shutdown task is
cut at its timeout, its ``force`` callback runs, and the tasks after it still run.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi_sentient.exceptions import StartupError

logger = logging.getLogger("fastapi_sentient.lifecycle")

TaskFunction = Callable[[], Awaitable[Any]]
F = TypeVar("F", bound=TaskFunction)
DurationObserver = Callable[[str, str, str, float], None]


class LifecycleState(enum.StrEnum):
    """Where the process is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    DRAINING = "draining"
    STOPPED = "stopped"
    ERROR = "error"


@dataclass(slots=True)
class LifecycleTask:
    """A registered startup or shutdown task."""

    name: str
    function: TaskFunction
    priority: int
    timeout: float
    force: TaskFunction | None = None
    health_check: Callable[[], Awaitable[bool]] | None = None


class Lifecycle:
    """Ordered startup/shutdown tasks, the state machine and ``draining``."""

    def __init__(
        self,
        *,
        startup_timeout: float = 30.0,
        shutdown_timeout: float = 10.0,
        observe: DurationObserver | None = None,
    ) -> None:
        self._state = LifecycleState.STARTING
        self.error: str | None = None
        self.started_at = time.monotonic()
        self._startup: list[LifecycleTask] = []
        self._shutdown: list[LifecycleTask] = []
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._observe = observe
        self._draining = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._drain_listeners: list[Callable[[], None]] = []

    # --- the state and its transitions --------------------------------------------------------

    @property
    def state(self) -> LifecycleState:
        """Where the process is; only the transitions below change it."""
        return self._state

    @property
    def draining(self) -> asyncio.Event:
        """Set when draining starts: SSE streams and agent runs should finish early."""
        return self._draining

    @property
    def is_draining(self) -> bool:
        """True from the first SIGTERM or ``/drain`` until a drain is undone or the process stops."""
        return self._state is LifecycleState.DRAINING

    def reset(self) -> None:
        """Back to ``starting`` for a new run of the lifespan (tests often run it twice)."""
        self._state = LifecycleState.STARTING
        self._draining = asyncio.Event()
        self.error = None
        self.started_at = time.monotonic()

    def mark_running(self) -> None:
        """``starting → running``: startup finished (a drain or failure during startup wins)."""
        if self._state is LifecycleState.STARTING:
            self._state = LifecycleState.RUNNING

    def mark_draining(self) -> None:
        """``starting | running → draining`` with no side effect, safe inside a signal handler.

        A plain attribute write is all a signal handler may do; it is what ``/ready`` reads,
        so readiness flips before the loop even wakes.  :meth:`begin_drain` follows on the
        loop and announces it.
        """
        if self._state in (LifecycleState.STARTING, LifecycleState.RUNNING):
            self._state = LifecycleState.DRAINING

    def begin_drain(self) -> bool:
        """Enter draining and announce it once; returns True the first time."""
        self.mark_draining()
        if self._draining.is_set():
            return False
        self._draining.set()
        logger.info("draining: readiness is now 503")
        for listener in list(self._drain_listeners):
            try:
                listener()
            except Exception:
                logger.exception("drain listener failed")
        return True

    def undo_drain(self) -> bool:
        """``draining → running`` (a ``/drain`` that no SIGTERM followed); returns whether it did.

        Work that already saw ``draining`` set keeps its old event; new readers
        get a fresh one.
        """
        if self._state is not LifecycleState.DRAINING:
            return False
        self._draining = asyncio.Event()
        self._state = LifecycleState.RUNNING
        return True

    def mark_stopped(self) -> None:
        """``→ stopped`` once the lifespan has exited; ``error`` stays, for ``/live`` to report."""
        if self._state is not LifecycleState.ERROR:
            self._state = LifecycleState.STOPPED

    def on_drain(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` once when draining starts."""
        self._drain_listeners.append(listener)

    @property
    def alive(self) -> bool:
        """What ``/live`` reports: anything but ``error``."""
        return self._state is not LifecycleState.ERROR

    def fail(self, reason: str) -> None:
        """Put the lifecycle in ``error``: ``/live`` turns 503 and the process gets restarted."""
        if self._state is not LifecycleState.ERROR:
            logger.error("lifecycle error: %s", reason)
        self._state = LifecycleState.ERROR
        self.error = reason

    # --- registration -----------------------------------------------------------------------

    def on_startup(
        self,
        name: str,
        *,
        priority: int = 100,
        timeout: float | None = None,
        health_check: Callable[[], Awaitable[bool]] | None = None,
    ) -> Callable[[F], F]:
        """Register a startup task; higher priority runs first.  A failure stops startup."""

        def register(function: F) -> F:
            self.add_startup(
                name, function, priority=priority, timeout=timeout, health_check=health_check
            )
            return function

        return register

    def on_shutdown(
        self,
        name: str,
        *,
        priority: int = 100,
        timeout: float | None = None,
        force: TaskFunction | None = None,
    ) -> Callable[[F], F]:
        """Register a shutdown task; higher priority runs first, each within its timeout."""

        def register(function: F) -> F:
            self.add_shutdown(name, function, priority=priority, timeout=timeout, force=force)
            return function

        return register

    def add_startup(
        self,
        name: str,
        function: TaskFunction,
        *,
        priority: int = 100,
        timeout: float | None = None,
        health_check: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Method form of :meth:`on_startup`."""
        self._startup.append(
            LifecycleTask(
                name,
                function,
                priority,
                timeout or self._startup_timeout,
                health_check=health_check,
            )
        )

    def add_shutdown(
        self,
        name: str,
        function: TaskFunction,
        *,
        priority: int = 100,
        timeout: float | None = None,
        force: TaskFunction | None = None,
    ) -> None:
        """Method form of :meth:`on_shutdown`."""
        self._shutdown.append(
            LifecycleTask(name, function, priority, timeout or self._shutdown_timeout, force=force)
        )

    @property
    def shutdown_budget(self) -> float:
        """The longest the shutdown tasks can take together."""
        return sum(task.timeout for task in self._shutdown)

    # --- running ----------------------------------------------------------------------------

    def _ordered(self, tasks: list[LifecycleTask]) -> list[LifecycleTask]:
        # sorted() is stable: equal priorities keep registration order
        return sorted(tasks, key=lambda task: -task.priority)

    def _record(self, phase: str, task: str, result: str, seconds: float) -> None:
        if self._observe is not None:
            self._observe(phase, task, result, seconds)

    async def run_startup(self) -> None:
        """Run startup tasks by priority; the first failure raises :class:`StartupError`."""
        for task in self._ordered(self._startup):
            started = time.perf_counter()
            try:
                async with asyncio.timeout(task.timeout):
                    await task.function()
                    if task.health_check is not None and not await task.health_check():
                        msg = "its health check failed"
                        raise RuntimeError(msg)
            except TimeoutError:
                self._record("startup", task.name, "timeout", time.perf_counter() - started)
                self.fail(f"startup task {task.name!r} timed out after {task.timeout:g}s")
                msg = f"startup task {task.name!r} timed out after {task.timeout:g}s"
                raise StartupError(msg) from None
            except Exception as exc:
                self._record("startup", task.name, "error", time.perf_counter() - started)
                msg = f"startup task {task.name!r} failed: {type(exc).__name__}: {exc}"
                self.fail(msg)
                raise StartupError(msg) from exc
            self._record("startup", task.name, "success", time.perf_counter() - started)

    async def run_shutdown(self) -> None:
        """Run every shutdown task by priority; failures and timeouts are logged, not raised."""
        for task in self._ordered(self._shutdown):
            started = time.perf_counter()
            result = "success"
            try:
                async with asyncio.timeout(task.timeout):
                    await task.function()
            except TimeoutError:
                result = "timeout"
                logger.warning("shutdown task %s cut at its %gs timeout", task.name, task.timeout)
                if task.force is not None:
                    try:
                        async with asyncio.timeout(task.timeout):
                            await task.force()
                    except Exception:
                        logger.exception("force of shutdown task %s failed", task.name)
            except Exception:
                result = "error"
                logger.exception("shutdown task %s failed", task.name)
            self._record("shutdown", task.name, result, time.perf_counter() - started)

    # --- background work --------------------------------------------------------------------

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run one of our background loops; if it crashes, the lifecycle goes to ``error``."""
        task = asyncio.get_running_loop().create_task(coroutine, name=f"sentient:{name}")
        self._background.add(task)
        task.add_done_callback(self._background_done)
        return task

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("background task %s crashed", task.get_name(), exc_info=exc)
            self.fail(f"background task {task.get_name()} crashed: {type(exc).__name__}")

    async def stop_background(self) -> None:
        """Cancel our background loops and wait for them."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
