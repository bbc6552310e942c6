"""The public API is exactly what the design contract names (plus the version and transaction())."""

from __future__ import annotations

import fastapi_sentient

CONTRACT = {
    "include_plugin",
    "Sentient",
    "get_sentient",
    "SentientDep",
    "SentientSettings",
    "HealthStatus",
    "CheckResult",
    "DbSession",
    "DbEngine",
    "RedisClient",
    "http_client",
    "SentientError",
    "ConfigurationError",
}


def test_all_is_pinned_and_sorted() -> None:
    """__all__ holds the contract's names, the version and transaction(), sorted."""
    assert set(fastapi_sentient.__all__) == CONTRACT | {"__version__", "transaction"}
    assert list(fastapi_sentient.__all__) == sorted(fastapi_sentient.__all__)


def test_every_name_resolves() -> None:
    """Every exported name is importable from the package root."""
    for name in fastapi_sentient.__all__:
        assert getattr(fastapi_sentient, name) is not None


def test_handle_has_the_contract_attributes() -> None:
    """Sentient exposes settings, health, lifecycle, metrics, pools, cluster and llm."""
    from fastapi import FastAPI

    sentient = fastapi_sentient.include_plugin(
        FastAPI(), fastapi_sentient.SentientSettings(system_checks=False)
    )
    for attribute in ("settings", "health", "lifecycle", "metrics", "pools", "cluster", "llm"):
        assert getattr(sentient, attribute) is not None


def test_configuration_error_is_a_sentient_error() -> None:
    """ConfigurationError sits under SentientError (and ValueError)."""
    assert issubclass(fastapi_sentient.ConfigurationError, fastapi_sentient.SentientError)
    assert issubclass(fastapi_sentient.ConfigurationError, ValueError)
