"""Series from the start: configured providers, breakers, pools and business metrics read 0
before anything happened, so dashboards show 0 and absence alerts are meaningful."""

from __future__ import annotations

from tests.support.asgi import plugged_app, running, sample
from tests.support.procs import free_port


async def test_every_configured_series_is_exported_at_zero_from_startup() -> None:
    """Nothing was called yet: each provider/model, breaker, pool and business series is 0."""
    provider = {
        "kind": "openai",
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "api_key": "k",
        "models": ["m1", "m2"],
    }
    app, sentient = plugged_app(llm_providers={"local": provider})
    # a service using business metrics reaches them when its module loads
    business = sentient.business
    async with running(app) as client:
        text = (await client.get("/metrics")).text
    for model in ("m1", "m2", "other"):
        for status in ("success", "error", "timeout", "throttled", "circuit_open"):
            assert (
                sample(text, "llm_requests_total", provider="local", model=model, status=status)
                == 0
            ), (model, status)
        for kind in ("input", "output", "cache_read"):
            assert sample(text, "llm_tokens_consumed_total", model=model, type=kind) == 0
        assert sample(text, "llm_cost_usd_total", provider="local", model=model) == 0
        assert sample(text, "llm_request_duration_seconds_count", model=model) == 0
        assert f'circuit_breaker_state{{name="llm:local:{model}"}} 0.0' in text.splitlines()
    assert sample(text, "llm_calls_in_flight", provider="local") == 0
    assert sample(text, "http_pool_in_use", pool="local") == 0
    assert sample(text, "auth_attempts_total", type="api_key", result="failure") == 0
    assert sample(text, "rate_limit_hits_total", tier="free", identifier_type="ip") == 0
    assert sample(text, "revenue_usd_total", subscription_tier="pro", billing_period="monthly") == 0
    assert sample(text, "active_sessions_total") == 0
    assert business.revenue is not None
