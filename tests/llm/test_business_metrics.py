"""The domain metrics facade: typed methods, bounded labels."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from fastapi_sentient._business_metrics import BusinessMetrics, business_metrics
from fastapi_sentient.metrics._registry import Metrics
from tests.support.asgi import plugged_app, sample


def text(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_every_seed_metric_is_recorded() -> None:
    """Each method moves its metric with the seed's label names."""
    metrics = Metrics(process_collectors=False)
    b = BusinessMetrics(metrics)
    b.record_auth_attempt("api_key", "success")
    b.record_rate_limit_hit("free", "ip")
    b.session_started()
    b.session_started()
    b.session_ended("pro", 120.0)
    b.record_error("timeout", "error", "llm")
    b.record_agent_interaction("researcher", "web_search", 0.8)
    b.record_user_interaction("message", "pro")
    b.record_revenue("enterprise", "monthly", 499.0)
    out = text(metrics)
    assert sample(out, "auth_attempts_total", type="api_key", result="success") == 1
    assert sample(out, "rate_limit_hits_total", tier="free", identifier_type="ip") == 1
    assert sample(out, "active_sessions_total") == 1
    assert sample(out, "session_duration_seconds_count", user_tier="pro") == 1
    assert sample(out, "errors_total", error_type="timeout", severity="error", component="llm") == 1
    assert sample(out, "agent_response_quality_score_sum", agent_type="researcher") == 0.8
    assert sample(out, "user_interactions_total", interaction_type="message", user_tier="pro") == 1
    assert (
        sample(out, "revenue_usd_total", subscription_tier="enterprise", billing_period="monthly")
        == 499
    )


def test_labels_are_bounded() -> None:
    """Unknown vocabulary becomes other; open labels keep only the first `limit` values."""
    metrics = Metrics(process_collectors=False)
    b = BusinessMetrics(metrics, limit=3)
    b.record_auth_attempt("carrier-pigeon", "maybe")
    for n in range(10):
        b.record_error(f"kind-{n}", "critical", "api")
    out = text(metrics)
    assert sample(out, "auth_attempts_total", type="other", result="other") == 1
    assert sample(out, "errors_total", error_type="kind-2") == 1
    assert sample(out, "errors_total", error_type="other") == 7
    assert "kind-9" not in out


def test_quality_is_clamped_and_refunds_refused() -> None:
    """Scores outside 0..1 are clamped; negative revenue raises."""
    metrics = Metrics(process_collectors=False)
    b = BusinessMetrics(metrics)
    b.record_agent_interaction("a", "c", 7.0)
    assert sample(text(metrics), "agent_response_quality_score_sum", agent_type="a") == 1.0
    with pytest.raises(ValueError, match="refund"):
        b.record_revenue("pro", "monthly", -5)


def test_one_facade_per_app() -> None:
    """business_metrics(sentient) returns the same facade each time, on the app's registry."""
    _app, sentient = plugged_app()
    assert business_metrics(sentient) is business_metrics(sentient)
    business_metrics(sentient).record_user_interaction("message", "free")
    assert sample(text(sentient.metrics), "user_interactions_total", user_tier="free") == 1


def test_handle_exposes_the_same_facade() -> None:
    """sentient.business is the app's one business-metrics facade."""
    from fastapi import FastAPI

    from fastapi_sentient import SentientSettings, include_plugin

    sentient = include_plugin(FastAPI(), SentientSettings(system_checks=False))
    assert sentient.business is business_metrics(sentient)


def test_each_app_has_its_own_facade() -> None:
    """Two apps in one process never share a facade, its label memory or its registry."""
    _app_a, a = plugged_app()
    _app_b, b = plugged_app()
    assert a.business is not b.business
    a.business.record_error("only-in-a", "error", "api")
    assert sample(text(a.metrics), "errors_total", error_type="only-in-a") == 1
    assert "only-in-a" not in text(b.metrics)
