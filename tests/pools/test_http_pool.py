"""Per-provider HTTP pools: explicit limits, stats, SDK compatibility, cancellation safety."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Annotated

import anthropic
import httpx2
import openai
import pytest
from fastapi import FastAPI

from fastapi_sentient import include_plugin
from fastapi_sentient._dependencies import http_client
from fastapi_sentient.llm._adapters import auth_headers
from fastapi_sentient.pools import PoolResizeError
from fastapi_sentient.pools._http import HttpPool
from tests.llm.fakes import ANTHROPIC_KEY, OPENAI_KEY, FakeProvider
from tests.support.asgi import quiet_settings, running, sample


@pytest.fixture(scope="module")
def _servers() -> Iterator[tuple[FakeProvider, FakeProvider]]:
    pair = (
        FakeProvider("openai", OPENAI_KEY).start(),
        FakeProvider("anthropic", ANTHROPIC_KEY).start(),
    )
    try:
        yield pair
    finally:
        for server in pair:
            server.stop()


@pytest.fixture
def fake(_servers: tuple[FakeProvider, FakeProvider]) -> FakeProvider:
    """The fake OpenAI-compatible server, reset."""
    _servers[0].reset()
    return _servers[0]


@pytest.fixture
def anthropic_fake(_servers: tuple[FakeProvider, FakeProvider]) -> FakeProvider:
    """The fake Anthropic-compatible server, reset."""
    _servers[1].reset()
    return _servers[1]


def pool_for(fake: FakeProvider, **options: object) -> HttpPool:
    headers = auth_headers(fake.kind, fake.key)
    return HttpPool(fake.kind, fake.url, headers=headers, **options)  # type: ignore[arg-type]


AnthropicHttp = Annotated[httpx2.AsyncClient, http_client("anthropic")]


def app_for(*fakes: FakeProvider, **provider: object) -> tuple[FastAPI, object]:
    entries = {
        f.kind: {"kind": f.kind, "base_url": f.url, "api_key": f.key, **provider} for f in fakes
    }
    app = FastAPI()
    sentient = include_plugin(app, quiet_settings(llm_providers=json.loads(json.dumps(entries))))
    return app, sentient


async def test_cancelled_requests_do_not_leak_slots(fake: FakeProvider) -> None:
    """max_connections=2: 20 slow requests cancelled mid-flight, then a normal one succeeds."""
    pool = pool_for(fake, max_connections=2, pool_timeout=2.0)
    await pool.open()
    try:
        fake.delay = 5.0
        body = {"model": "gpt-test", "messages": []}
        tasks = [
            asyncio.create_task(pool.client.post("chat/completions", json=body)) for _ in range(20)
        ]
        for _ in range(500):
            if fake.posts == 2 and pool.stats().waiting == 18:
                break
            await asyncio.sleep(0.01)
        stats = pool.stats()
        assert (fake.posts, stats.in_use, stats.waiting) == (2, 2, 18)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert pool.stats().in_use == 0
        assert pool.stats().waiting == 0

        fake.delay = 0.0
        response = await pool.client.post("chat/completions", json=body)
        assert response.status_code == 200
        assert pool.stats().in_use == 0
        assert pool.stats().acquire_timeouts == 0
    finally:
        await pool.close()


async def test_exhausted_pool_times_out_and_counts(fake: FakeProvider) -> None:
    """One slot held by a slow request: the next waits pool_timeout, then PoolTimeout."""
    pool = pool_for(fake, max_connections=1, pool_timeout=0.2)
    await pool.open()
    try:
        fake.delay = 1.0
        body = {"model": "gpt-test", "messages": []}
        slow = asyncio.create_task(pool.client.post("chat/completions", json=body))
        for _ in range(300):
            if pool.stats().in_use == 1:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(httpx2.PoolTimeout, match="max_connections"):
            await pool.client.get("models")
        assert pool.stats().acquire_timeouts == 1
        assert (await slow).status_code == 200
    finally:
        await pool.close()


async def test_stats_count_connections_created_idle_and_closed(fake: FakeProvider) -> None:
    """Concurrent requests open connections; drain() closes the idle ones and counts them."""
    pool = pool_for(fake, max_connections=3)
    await pool.open()
    try:
        fake.delay = 0.2
        await asyncio.gather(*(pool.client.get("models") for _ in range(3)))
        stats = pool.stats()
        assert stats.created == 3
        assert (stats.size, stats.idle, stats.in_use) == (3, 3, 0)
        assert await pool.drain() == 3
        stats = pool.stats()
        assert (stats.size, stats.closed) == (0, 3)
        fake.delay = 0.0
        assert (await pool.client.get("models")).status_code == 200
        assert pool.stats().created == 4
    finally:
        await pool.close()


async def test_resize_within_built_cap(fake: FakeProvider) -> None:
    """resize() lowers the cap; above the built max_connections it is refused."""
    pool = pool_for(fake, max_connections=4)
    await pool.open()
    try:
        await pool.resize(2)
        with pytest.raises(PoolResizeError, match="max_connections"):
            await pool.resize(5)
    finally:
        await pool.close()


async def test_official_openai_sdk_accepts_the_pooled_client(fake: FakeProvider) -> None:
    """openai.AsyncOpenAI(http_client=pool.client) works and its requests go through the pool."""
    pool = pool_for(fake, max_connections=2)
    await pool.open()
    try:
        client = openai.AsyncOpenAI(
            api_key=OPENAI_KEY, base_url=fake.url, http_client=pool.client, max_retries=0
        )
        models = await client.models.list()
        reply = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
        assert [m.id for m in models.data] == ["model-a", "model-b"]
        assert reply.usage is not None
        assert reply.usage.prompt_tokens == 11
        assert pool.stats().created >= 1
        assert fake.count("GET", "models") == 1
    finally:
        await pool.close()


async def test_official_anthropic_sdk_accepts_the_pooled_client(
    anthropic_fake: FakeProvider,
) -> None:
    """anthropic.AsyncAnthropic(http_client=pool.client) works (no TypeError) through the pool."""
    pool = pool_for(anthropic_fake, max_connections=2)
    await pool.open()
    try:
        base = anthropic_fake.url.removesuffix("/v1")
        client = anthropic.AsyncAnthropic(
            api_key=ANTHROPIC_KEY, base_url=base, http_client=pool.client, max_retries=0
        )
        message = await client.messages.create(
            model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.usage.output_tokens == 3
        assert anthropic_fake.headers[-1]["x-api-key"] == ANTHROPIC_KEY
        assert pool.stats().created >= 1
    finally:
        await pool.close()


async def test_settings_build_pools_with_auth_limits_metrics_and_dependency(
    fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """SENTIENT_LLM_PROVIDERS gives each provider a pool: auth headers, http_pool_* and the dependency."""
    app, sentient = app_for(fake, anthropic_fake, max_connections=3)

    @app.get("/probe")
    async def probe(client: AnthropicHttp) -> dict[str, int]:
        return {"status": (await client.get("models")).status_code}

    async with running(app) as client:
        assert (await client.get("/probe")).json() == {"status": 200}
        metrics = (await client.get("/metrics")).text
        health = (await client.get("/health", headers={})).json()
    pool = sentient.pools.get("openai")  # type: ignore[attr-defined]
    assert pool.stats().max_size == 3
    assert fake.headers[-1]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert anthropic_fake.headers[-1]["anthropic-version"] == "2023-06-01"
    assert sample(metrics, "http_pool_max_size", pool="openai") == 3
    assert sample(metrics, "http_pool_connections_created_total", pool="anthropic") is not None
    assert sample(metrics, "http_pool_acquire_seconds_count", pool="anthropic") is not None
    for name in ("size", "in_use", "idle", "waiting"):
        assert sample(metrics, f"http_pool_{name}", pool="openai") is not None
    assert health["status"] in ("healthy", "degraded")
    assert fake.posts == 0
