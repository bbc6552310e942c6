"""PoolStats, PoolMetrics and the Pool protocol."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from fastapi_sentient.exceptions import ConfigurationError
from fastapi_sentient.pools import Pool, PoolMetrics, PoolStats
from tests.pools.fakes import ToyPool


def instruments(registry: CollectorRegistry) -> dict[str, Histogram | Counter]:
    return {
        "acquire": Histogram("t_acquire_seconds", "a", ["pool"], registry=registry),
        "timeouts": Counter("t_timeouts", "t", ["pool"], registry=registry),
        "created": Counter("t_created", "c", ["pool"], registry=registry),
        "closed": Counter("t_closed", "c", ["pool"], registry=registry),
    }


def test_stats_to_dict_has_the_seed_fields() -> None:
    """to_dict() carries every getStats field under its name."""
    stats = PoolStats("db", "db", 3, 15, 2, 1, 0, 4, 7, 4, 1)
    assert stats.to_dict() == {
        "name": "db",
        "kind": "db",
        "size": 3,
        "max_size": 15,
        "in_use": 2,
        "idle": 1,
        "overflow": 0,
        "waiting": 4,
        "created": 7,
        "closed": 4,
        "acquire_timeouts": 1,
    }


def test_metrics_replay_totals_counted_before_binding() -> None:
    """Counts made before a registry binds the instruments are not lost."""
    metrics = PoolMetrics("main", "db")
    metrics.connection_created(3)
    metrics.connection_closed()
    metrics.timeout()
    registry = CollectorRegistry()
    metrics.bind(**instruments(registry))  # type: ignore[arg-type]
    metrics.connection_created()
    assert registry.get_sample_value("t_created_total", {"pool": "main"}) == 4
    assert registry.get_sample_value("t_closed_total", {"pool": "main"}) == 1
    assert registry.get_sample_value("t_timeouts_total", {"pool": "main"}) == 1
    assert (metrics.created, metrics.closed, metrics.acquire_timeouts) == (4, 1, 1)


def test_acquiring_counts_waiters_and_observes_only_successes() -> None:
    """A caller is 'waiting' inside acquiring(); a failed acquire is not observed."""
    metrics = PoolMetrics("main", "db")
    registry = CollectorRegistry()
    metrics.bind(**instruments(registry))  # type: ignore[arg-type]
    with metrics.acquiring():
        assert metrics.waiting == 1
    with pytest.raises(TimeoutError), metrics.acquiring():
        raise TimeoutError
    assert metrics.waiting == 0
    assert registry.get_sample_value("t_acquire_seconds_count", {"pool": "main"}) == 1


def test_kind_must_be_a_metric_prefix() -> None:
    """A kind that would make an invalid metric name is refused with the rule."""
    with pytest.raises(ConfigurationError, match=r"\[a-z\]"):
        PoolMetrics("x", "My-Kind")


def test_a_user_pool_satisfies_the_protocol() -> None:
    """Any object with the documented attributes and methods is a Pool."""
    assert isinstance(ToyPool(), Pool)
    assert not isinstance(object(), Pool)
