"""Each subsystem's settings slice: every flat field in exactly one group, read as set."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import SecretStr

from fastapi_sentient._settings_groups import GROUPS, flat_names
from fastapi_sentient.settings import SentientSettings


def _pairs(group: str) -> tuple[tuple[str, str], ...]:
    return flat_names(group, frozenset(SentientSettings.model_fields))


def test_every_flat_field_belongs_to_exactly_one_group() -> None:
    """No SENTIENT_* variable is left out of a slice, and none is in two."""
    claimed = [flat for group in GROUPS for _, flat in _pairs(group)]
    assert sorted(claimed) == sorted(SentientSettings.model_fields)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_a_view_reads_the_flat_values(group: str) -> None:
    """settings.<group>.<name> is the flat field's value, and the view is frozen."""
    settings = SentientSettings(
        system_checks=False,
        database_url="sqlite+aiosqlite:///./x.db",
        db_pool_size=7,
        redis_url="redis://127.0.0.1:6379/0",
        cluster_name="blue",
        lease_ttl=20,
        renew_deadline=12,
        tracing_sample_ratio=0.25,
        llm_retry_attempts=4,
        resilience_shared=True,
        health_interval=3.0,
        metrics_enabled=False,
    )
    view = getattr(settings, group)
    for name, flat in _pairs(group):
        if group == "endpoints" and name == "health_details":
            continue  # the effective mode, tested below
        assert getattr(view, name) == getattr(settings, flat), (group, name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(view, _pairs(group)[0][0], None)


def test_renamed_fields_drop_their_prefix() -> None:
    """The group names its fields without the subsystem's prefix."""
    settings = SentientSettings(
        system_checks=False, database_url="sqlite+aiosqlite:///./x.db", db_pool_size=7
    )
    assert settings.database.url == "sqlite+aiosqlite:///./x.db"
    assert settings.database.pool_size == 7
    assert settings.cluster.lease_ttl == settings.lease_ttl
    assert settings.cluster.call_timeout == settings.cluster_call_timeout
    assert settings.health.interval == settings.health_interval
    assert settings.health.cpu_warning == settings.cpu_warning
    assert settings.metrics.process_metrics == settings.process_metrics


def test_endpoints_carry_the_effective_detail_mode() -> None:
    """A token alone unlocks details for its bearer; an explicit mode wins."""
    token = SentientSettings(system_checks=False, health_token=SecretStr("t0ken/+@"))
    assert token.endpoints.health_details == "authorized"
    explicit = SentientSettings(
        system_checks=False, health_token=SecretStr("t0ken/+@"), health_details="never"
    )
    assert explicit.endpoints.health_details == "never"
    assert token.endpoints.endpoint_paths() == token.endpoint_paths()
