"""Startup refuses cluster timings that would break the lease invariants, naming the variables."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from fastapi_sentient import include_plugin
from fastapi_sentient.exceptions import ConfigurationError
from fastapi_sentient.settings import load_settings


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"LEASE_TTL": "10", "RENEW_DEADLINE": "10"},
            ["SENTIENT_LEASE_TTL", "SENTIENT_RENEW_DEADLINE"],
        ),
        (
            {"RENEW_DEADLINE": "2.4", "RETRY_PERIOD": "2"},
            ["SENTIENT_RENEW_DEADLINE", "SENTIENT_RETRY_PERIOD"],
        ),
        (
            {"CLUSTER_CALL_TIMEOUT": "2", "RETRY_PERIOD": "2"},
            ["SENTIENT_CLUSTER_CALL_TIMEOUT", "SENTIENT_RETRY_PERIOD"],
        ),
        (
            {"CLUSTER_REPLICA_TIMEOUT": "1", "CLUSTER_CALL_TIMEOUT": "1"},
            ["SENTIENT_CLUSTER_REPLICA_TIMEOUT", "SENTIENT_CLUSTER_CALL_TIMEOUT"],
        ),
        (
            {"NODE_TTL": "3", "HEARTBEAT_INTERVAL": "2"},
            ["SENTIENT_NODE_TTL", "SENTIENT_HEARTBEAT_INTERVAL"],
        ),
    ],
)
def test_bad_timings_are_refused_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: list[str]
) -> None:
    """lease > renew_deadline > 1.2 × retry, call timeout < retry, node TTL ≥ 2 heartbeats."""
    for name, value in env.items():
        monkeypatch.setenv(f"SENTIENT_{name}", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    for variable in named:
        assert variable in message
    with pytest.raises(SystemExit) as exited:
        include_plugin(FastAPI())
    assert named[0] in str(exited.value)


def test_the_defaults_and_the_test_timings_are_accepted() -> None:
    """15/10/2 s with a 1 s call timeout, and 3/2/0.5 s with 0.3 s, both hold the invariants."""
    assert load_settings().lease_ttl == 15
    fast = load_settings(lease_ttl=3, renew_deadline=2, retry_period=0.5, cluster_call_timeout=0.3)
    assert fast.renew_deadline == 2


def test_cluster_name_must_fit_in_a_hash_tag() -> None:
    """A cluster name with braces would split the keys over slots: refused at install."""
    with pytest.raises(ConfigurationError, match="SENTIENT_CLUSTER_NAME"):
        include_plugin(
            FastAPI(), load_settings(redis_url="redis://127.0.0.1:1/0", cluster_name="a{b}")
        )
