"""The LLM providers health check: free probes, per-provider status, never a billed call."""

from __future__ import annotations

import asyncio
import time

import httpx2

from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running


async def details(client: httpx2.AsyncClient) -> dict[str, object]:
    body = (await client.get("/health")).json()
    return body["details"]  # type: ignore[no-any-return]


async def test_idle_probes_use_get_models_and_never_post(openai_fake: FakeProvider) -> None:
    """Over 3 s of idling with 1 s intervals, probes are GET /models only: zero POSTs."""
    app, _ = llm_app(
        providers(openai_fake), llm_health_interval=1.0, health_interval=1.0,
        health_details="always",
    )  # fmt: skip
    async with running(app) as client:
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            await asyncio.sleep(0.1)
        report = await details(client)
    assert openai_fake.count("GET", "models") >= 3
    # the pool check and the providers check share one cached probe per interval
    assert openai_fake.count("GET", "models") <= 6
    assert openai_fake.posts == 0
    entry = report["llm_providers"]
    assert entry["status"] == "healthy"  # type: ignore[index]
    assert entry["details"]["providers"]["openai"]["statusCode"] == 200  # type: ignore[index]


async def test_401_marks_provider_unhealthy_but_ready_stays_200(openai_fake: FakeProvider) -> None:
    """A wrong key answers 401: the provider is unhealthy, and readiness is unaffected."""
    entries = providers(openai_fake)
    entries["openai"]["api_key"] = "sk-wrong-key-000000000000"
    app, _ = llm_app(entries, health_details="always")
    async with running(app) as client:
        report = await details(client)
        ready = await client.get("/ready")
    llm = report["llm_providers"]
    assert llm["status"] == "unhealthy"  # type: ignore[index]
    assert llm["critical"] is False  # type: ignore[index]
    provider = llm["details"]["providers"]["openai"]  # type: ignore[index]
    assert provider["statusCode"] == 401
    assert report["http:openai"]["status"] == "unhealthy"  # type: ignore[index]
    assert ready.status_code == 200
    assert openai_fake.posts == 0


async def test_some_unhealthy_is_degraded(
    openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """One provider answering 500 and one healthy: the check says degraded."""
    openai_fake.models_status = 500
    app, _ = llm_app(providers(openai_fake, anthropic_fake), health_details="always")
    async with running(app) as client:
        report = await details(client)
    llm = report["llm_providers"]
    assert llm["status"] == "degraded"  # type: ignore[index]
    assert llm["details"]["healthyProviders"] == 1  # type: ignore[index]
    assert llm["details"]["providers"]["anthropic"]["status"] == "healthy"  # type: ignore[index]


async def test_critical_provider_down_gates_readiness(openai_fake: FakeProvider) -> None:
    """A provider marked critical that fails its probe makes /ready answer 503."""
    openai_fake.models_status = 503
    app, _ = llm_app(providers(openai_fake, critical=True), health_details="always")
    async with running(app) as client:
        ready = await client.get("/ready")
        report = await details(client)
    assert report["llm_providers"]["critical"] is True  # type: ignore[index]
    assert ready.status_code == 503


async def test_opt_in_generate_probe_sends_one_max_tokens_1_completion(
    openai_fake: FakeProvider,
) -> None:
    """SENTIENT_LLM_PROBE_GENERATE probes with a max_tokens=1 completion, as the seed did."""
    app, _ = llm_app(providers(openai_fake), llm_probe_generate=True)
    async with running(app):
        pass
    assert openai_fake.count("POST", "chat/completions") == 1
    assert openai_fake.bodies[0]["max_completion_tokens"] == 1
