"""Breaker decisions shared through a real redis-server, failing open when it is gone."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from fastapi_sentient.llm import CircuitOpenError, ProviderError
from fastapi_sentient.resilience._breaker import BreakerState
from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running
from tests.support.redis_server import RedisServer

MESSAGES = [{"role": "user", "content": "hi"}]
BREAKER = {
    "llm_retry_attempts": 1,
    "llm_breaker_minimum_calls": 2,
    "llm_breaker_window_size": 2,
    "llm_breaker_open_duration": 30.0,
    "llm_breaker_sync_interval": 0.05,
}


async def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.mark.integration
async def test_open_in_one_process_rejects_in_another(
    openai_fake: FakeProvider, redis_proc: RedisServer
) -> None:
    """A opens its breaker; B, sharing Redis, rejects within a sync interval without calling."""
    app_a, a = llm_app(providers(openai_fake), **BREAKER, node_id="a")
    app_b, b = llm_app(providers(openai_fake), **BREAKER, node_id="b")
    redis_a, redis_b = Redis.from_url(redis_proc.url), Redis.from_url(redis_proc.url)
    a.llm.share_breakers(redis_a, prefix="t:")
    b.llm.share_breakers(redis_b, prefix="t:")
    openai_fake.status = 503
    try:
        async with running(app_a), running(app_b):
            for _ in range(2):
                with pytest.raises(ProviderError):
                    await a.llm.generate("openai", model="gpt-test", messages=MESSAGES)
            breaker_b = b.llm.providers["openai"].breakers["gpt-test"]
            await wait_for(lambda: breaker_b.state == BreakerState.OPEN)
            sent = openai_fake.posts
            with pytest.raises(CircuitOpenError):
                await b.llm.generate("openai", model="gpt-test", messages=MESSAGES)
            assert openai_fake.posts == sent
            assert 25.0 < breaker_b.retry_after() <= 30.0
    finally:
        await redis_a.aclose()
        await redis_b.aclose()


@pytest.mark.integration
async def test_redis_down_calls_still_flow(
    openai_fake: FakeProvider, redis_proc: RedisServer
) -> None:
    """With Redis killed, sync errors are counted and calls go on deciding locally."""
    app, sentient = llm_app(providers(openai_fake), **BREAKER)
    redis = Redis.from_url(redis_proc.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    shared = sentient.llm.share_breakers(redis, prefix="t:")
    try:
        async with running(app):
            redis_proc.kill()
            await wait_for(lambda: shared.errors >= 2)
            for _ in range(3):
                result = await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
                assert result.text == "Hello, world"
            openai_fake.status = 503
            with pytest.raises(ProviderError):  # window [ok, failed]: 50 % opens it
                await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
            with pytest.raises(CircuitOpenError):  # the local breaker still works
                await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
            assert sentient.lifecycle.alive
    finally:
        await redis.aclose()


@pytest.mark.integration
async def test_redis_url_shares_breakers_without_code(
    openai_fake: FakeProvider, redis_proc: RedisServer
) -> None:
    """With SENTIENT_REDIS_URL set, the LLM layer shares decisions through the app's Redis pool."""
    app, sentient = llm_app(providers(openai_fake), **BREAKER, redis_url=redis_proc.url)
    async with running(app):
        assert sentient.llm.shared is not None
        openai_fake.status = 503
        for _ in range(2):
            with pytest.raises(ProviderError):
                await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
        redis = Redis.from_url(redis_proc.url)
        try:
            keys = await redis.keys("*breaker:llm:openai:gpt-test")
        finally:
            await redis.aclose()
    assert len(keys) == 1
