"""Concurrency limits: per provider (max_concurrency) and per process, against a slow fake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import generate_latest

from fastapi_sentient import Sentient
from fastapi_sentient.llm import CircuitOpenError, ConcurrencyLimitError, LLMResult
from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running, sample

MESSAGES = [{"role": "user", "content": "hi"}]


def metric(sentient: Sentient, name: str, **labels: str) -> float | None:
    return sample(generate_latest(sentient.metrics.registry).decode(), name, **labels)


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def call(sentient: Sentient, provider: str = "openai") -> LLMResult:
    return await sentient.llm.generate(provider, messages=MESSAGES)


async def open_held_streams(sentient: Sentient, count: int) -> list[AsyncIterator[str]]:
    """``count`` streams past their first chunk; the fake holds them there (``hold``)."""
    chunks = [sentient.llm.stream("openai", messages=MESSAGES).__aiter__() for _ in range(count)]
    assert [await anext(c) for c in chunks] == ["Hello"] * count
    return chunks


async def finish(chunks: list[AsyncIterator[str]]) -> list[str]:
    return ["".join([c async for c in chunk]) for chunk in chunks]


async def test_provider_max_concurrency_caps_requests_in_flight(openai_fake: FakeProvider) -> None:
    """max_concurrency=2: two requests reach the fake, a third caller waits (and is counted), then serves."""
    app, sentient = llm_app(providers(openai_fake, max_concurrency=2))
    openai_fake.hold = True
    async with running(app):
        held = await open_held_streams(sentient, 2)
        third = asyncio.create_task(call(sentient))
        await wait_for(lambda: metric(sentient, "llm_calls_waiting", provider="openai") == 1)
        assert openai_fake.in_flight == 2
        assert openai_fake.posts == 2
        assert metric(sentient, "llm_calls_in_flight", provider="openai") == 2

        openai_fake.release()
        assert await finish(held) == [", world"] * 2  # after the first chunk, read above
        assert (await third).text == "Hello, world"

        openai_fake.delay = 0.05  # a burst of slow calls never exceeds the limit either
        results = await asyncio.gather(*(call(sentient) for _ in range(6)))
        assert [r.text for r in results] == ["Hello, world"] * 6
        assert metric(sentient, "llm_calls_waiting", provider="openai") == 0
        assert metric(sentient, "llm_calls_in_flight", provider="openai") == 0
    assert openai_fake.max_in_flight == 2
    assert openai_fake.posts == 9


async def test_waiting_for_a_provider_slot_counts_against_the_deadline(
    openai_fake: FakeProvider,
) -> None:
    """A caller queued behind a full provider fails at its deadline, having sent nothing."""
    app, sentient = llm_app(providers(openai_fake, max_concurrency=1), llm_deadline=0.5)
    openai_fake.hold = True
    async with running(app):
        held = await open_held_streams(sentient, 1)
        started = time.monotonic()
        with pytest.raises(ConcurrencyLimitError, match="max_concurrency") as info:
            await call(sentient)
        waited = time.monotonic() - started
        assert openai_fake.posts == 1
        openai_fake.release()
        assert await finish(held) == [", world"]
        text = generate_latest(sentient.metrics.registry).decode()
    assert 0.45 <= waited < 5.0
    assert info.value.provider == "openai"
    assert sample(text, "llm_requests_total", provider="openai", status="rejected") == 1
    assert sample(text, "llm_calls_waiting", provider="openai") == 0


async def test_open_breaker_rejects_without_queueing_for_a_full_provider(
    openai_fake: FakeProvider,
) -> None:
    """A full provider whose breaker is open rejects at once instead of spending the deadline."""
    app, sentient = llm_app(providers(openai_fake, max_concurrency=1))
    openai_fake.hold = True
    async with running(app):
        held = await open_held_streams(sentient, 1)
        next(b for b in sentient.llm.breakers() if b.name == "llm:openai:gpt-test").force_open(30)
        started = time.monotonic()
        with pytest.raises(CircuitOpenError):
            await call(sentient)
        elapsed = time.monotonic() - started
        openai_fake.release()
        await finish(held)
    assert elapsed < 60.0  # the deadline is 120 s: it did not queue
    assert openai_fake.posts == 1


async def test_a_full_provider_spills_over_to_the_next_target_of_a_route(
    openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """A route skips its full first target at once; the next one serves."""
    app, sentient = llm_app(
        providers(openai_fake, anthropic_fake, max_concurrency=1),
        llm_routes={"chat": ["openai/gpt-test", "anthropic/claude-test"]},
    )
    openai_fake.hold = True
    async with running(app):
        held = await open_held_streams(sentient, 1)
        result = await sentient.llm.generate("chat", messages=MESSAGES)
        openai_fake.release()
        await finish(held)
        text = generate_latest(sentient.metrics.registry).decode()
    assert result.provider == "anthropic"
    assert openai_fake.posts == 1
    assert sample(text, "llm_fallbacks_total", route="chat", reason="rejected") == 1


async def test_process_limit_still_gates_every_provider(
    openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """SENTIENT_LLM_MAX_CONCURRENCY=1: a call to another provider waits the queue timeout, unsent."""
    app, sentient = llm_app(
        providers(openai_fake, anthropic_fake), llm_max_concurrency=1, llm_queue_timeout=0.2
    )
    openai_fake.hold = True
    async with running(app):
        held = await open_held_streams(sentient, 1)
        with pytest.raises(ConcurrencyLimitError, match="SENTIENT_LLM_MAX_CONCURRENCY") as info:
            await call(sentient, "anthropic")
        openai_fake.release()
        await finish(held)
    assert info.value.provider is None
    assert anthropic_fake.posts == 0


def test_max_concurrency_defaults_to_the_pool_size(openai_fake: FakeProvider) -> None:
    """Without max_concurrency a provider admits as many calls as its pool has connections."""
    _, sentient = llm_app(providers(openai_fake, max_connections=3))
    gate = sentient.llm.providers["openai"].gate
    assert gate is not None
    assert gate.capacity == 3
