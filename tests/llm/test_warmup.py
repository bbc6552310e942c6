"""Provider pools are warm before readiness: the first calls after a rollout pay no connect."""

from __future__ import annotations

import logging

import pytest

from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running
from tests.support.procs import free_port

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_connections_are_open_before_ready_and_serve_the_first_call(
    openai_fake: FakeProvider,
) -> None:
    """Two connections (the default) are open when /ready turns 200; the first call opens none."""
    app, sentient = llm_app(providers(openai_fake))
    async with running(app) as client:
        pool = sentient.pools.get("openai")
        warm = pool.stats()
        ready = await client.get("/ready")
        # the warm-up's probes also answered the startup health check: no third GET
        probes = openai_fake.count("GET", "models")
        await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)
        after = pool.stats()
    assert ready.status_code == 200
    assert (warm.created, warm.idle) == (2, 2)
    assert probes == 2
    assert after.created == 2
    assert openai_fake.posts == 1


async def test_warmup_zero_opens_nothing(openai_fake: FakeProvider) -> None:
    """warmup 0: no connection before the first use but the health check's."""
    app, sentient = llm_app(providers(openai_fake, warmup=0))
    async with running(app):
        assert openai_fake.count("GET", "models") == 1  # the startup health check alone
        assert sentient.pools.get("openai").stats().created == 1


async def test_an_unreachable_provider_does_not_block_startup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A provider nobody answers for: startup goes on, a warning says the warm-up failed."""
    entries = {
        "down": {
            "kind": "openai",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "api_key": "sk-test-unreachable",
            "models": ["m"],
            "connect_timeout": 0.5,
        }
    }
    app, _ = llm_app(entries)
    with caplog.at_level(logging.WARNING, logger="fastapi_sentient.pools"):
        async with running(app) as client:
            ready = await client.get("/ready")
    assert ready.status_code == 200  # providers are not critical by default
    warnings = [r.getMessage() for r in caplog.records if "warm-up failed" in r.getMessage()]
    assert warnings and "down" in warnings[0]
    assert "sk-test-unreachable" not in caplog.text
