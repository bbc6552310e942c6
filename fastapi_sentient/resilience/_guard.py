"""``sentient.resilience.guard(name)``: a policy as a decorator or an async context manager.

As a decorator on an ``async def`` every call runs under the whole policy,
retries included::

    @sentient.resilience.guard("vector-db")
    async def nearest(vector: list[float]) -> list[str]: ...

As a context manager it guards a block with the bulkhead, the breaker and the
deadline — but cannot retry it (Python cannot run a ``with`` body twice)::

    async with sentient.resilience.guard("vector-db"):
        hits = await index.query(vector)

One ``Guard`` may be entered by many tasks at once: each entry's state lives in
the entering task's context, not on the object.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from types import TracebackType
from typing import ParamSpec, TypeVar

from fastapi_sentient.resilience._policy import Policy

P = ParamSpec("P")
T = TypeVar("T")


class Guard:
    """Applies one :class:`~fastapi_sentient.resilience._policy.Policy`."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._entered: ContextVar[tuple[AbstractAsyncContextManager[None], ...]] = ContextVar(
            f"guard:{policy.name}", default=()
        )

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """Wrap an async callable: every call runs under the policy."""
        if not inspect.iscoroutinefunction(fn):
            msg = f"guard({self.policy.name!r}) wraps async functions; {fn!r} is not one"
            raise TypeError(msg)
        policy = self.policy

        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            return await policy.call(lambda: fn(*args, **kwargs))

        return guarded

    async def __aenter__(self) -> Policy:
        block = self.policy.block()
        await block.__aenter__()
        self._entered.set((*self._entered.get(), block))
        return self.policy

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        *outer, block = self._entered.get()
        self._entered.set(tuple(outer))
        return await block.__aexit__(exc_type, exc, tb)
