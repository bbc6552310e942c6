"""Settings: defaults from DESIGN.md and one-line errors naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fastapi_sentient import ConfigurationError, SentientSettings
from fastapi_sentient._version import __version__
from fastapi_sentient.settings import load_settings
from tests.support.procs import ROOT, free_port


def test_defaults_match_the_contract() -> None:
    """Defaults are the documented ones."""
    s = SentientSettings()
    assert s.service_name == "fastapi-sentient"
    assert s.environment == "development"
    assert s.version == __version__
    assert s.shutdown_delay == 0
    assert s.drain_timeout == 30
    assert s.health_details == "never"
    assert (s.lease_ttl, s.renew_deadline, s.retry_period) == (15, 10, 2)
    assert s.tracing_enabled is False
    assert s.llm_providers == {}
    assert s.database_url is None and s.redis_url is None


def test_shutdown_delay_defaults_to_five_in_kubernetes(monkeypatch: pytest.MonkeyPatch) -> None:
    """KUBERNETES_SERVICE_HOST turns the default drain delay to 5 s."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert SentientSettings().shutdown_delay == 5


def test_every_field_is_documented() -> None:
    """Each setting carries a description (the configuration docs are built from them)."""
    missing = [name for name, f in SentientSettings.model_fields.items() if not f.description]
    assert missing == []


def test_invalid_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad number names SENTIENT_DRAIN_TIMEOUT and the accepted form on one line."""
    monkeypatch.setenv("SENTIENT_DRAIN_TIMEOUT", "abc")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert "SENTIENT_DRAIN_TIMEOUT" in message
    assert "number" in message


def test_lease_timings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """lease > renew_deadline > 1.2 × retry_period is enforced, naming the variables."""
    monkeypatch.setenv("SENTIENT_RENEW_DEADLINE", "2")
    monkeypatch.setenv("SENTIENT_RETRY_PERIOD", "2")
    with pytest.raises(ConfigurationError, match="SENTIENT_RENEW_DEADLINE.*SENTIENT_RETRY_PERIOD"):
        load_settings()


def test_secret_values_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid URL-ish or key setting is named without repeating its value."""
    monkeypatch.setenv(
        "SENTIENT_LLM_PROVIDERS", '{"p": {"kind": "nope", "api_key": "sk-secretsecret"}}'
    )
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "SENTIENT_LLM_PROVIDERS" in str(caught.value)
    assert "sk-secretsecret" not in str(caught.value)


@pytest.mark.integration
def test_uvicorn_stops_with_one_line(tmp_path: object) -> None:
    """SENTIENT_DRAIN_TIMEOUT=abc stops a real uvicorn startup with a line naming it, no traceback."""
    env = {"SENTIENT_DRAIN_TIMEOUT": "abc", "PYTHONPATH": str(ROOT)}
    import os

    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "example_app.main:app", "--port", str(free_port())],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "SENTIENT_DRAIN_TIMEOUT" in line]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/a,/b", ["/a", "/b"]), (" /a , /b ,", ["/a", "/b"]), ('["/a", "/b"]', ["/a", "/b"])],
)
def test_list_settings_take_a_comma_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    """SENTIENT_METRICS_EXCLUDE_PATHS=/a,/b and the JSON form mean the same."""
    monkeypatch.setenv("SENTIENT_METRICS_EXCLUDE_PATHS", value)
    monkeypatch.setenv("SENTIENT_CLUSTER_ROLES", "web")
    monkeypatch.setenv("SENTIENT_METRICS_BUCKETS", "0.1,1,10")
    s = load_settings()
    assert s.metrics_exclude_paths == expected
    assert s.cluster_roles == ["web"]
    assert s.metrics_buckets == [0.1, 1.0, 10.0]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SENTIENT_CLUSTER_ROLES", '["web"'),
        ("SENTIENT_LLM_PROVIDERS", '{"openai": {"kind": "openai"'),
        ("SENTIENT_LLM_ROUTES", "chat=openai/gpt"),
    ],
)
def test_malformed_json_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A JSON value that does not parse names its variable, without a traceback or the value."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    line = str(caught.value)
    assert variable in line and "\n" not in line
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_unknown_variable_warns_once_naming_the_closest(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A typo in a SENTIENT_ name is reported, with the variable the user probably meant."""
    monkeypatch.setenv("SENTIENT_TRACING_ENABLD", "true")
    monkeypatch.setenv("SENTIENT_ZZZ_QQQ", "1")
    with caplog.at_level("WARNING", logger="fastapi_sentient.settings"):
        load_settings()
    messages = [r.getMessage() for r in caplog.records if "unknown setting" in r.getMessage()]
    assert messages == [
        "unknown setting SENTIENT_TRACING_ENABLD is ignored; did you mean SENTIENT_TRACING_ENABLED?",
        "unknown setting SENTIENT_ZZZ_QQQ is ignored",
    ]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"retry_period": 0.4},
            {"cluster_call_timeout": 0.2, "renew_deadline": 10, "lease_ttl": 15},
        ),
        ({"retry_period": 10}, {"renew_deadline": 50, "lease_ttl": 75, "cluster_call_timeout": 1}),
        ({"lease_ttl": 3}, {"renew_deadline": 2, "retry_period": 0.4, "cluster_call_timeout": 0.2}),
        ({"renew_deadline": 30}, {"lease_ttl": 45, "retry_period": 2, "cluster_call_timeout": 1}),
        ({"heartbeat_interval": 6}, {"node_ttl": 30}),
        ({"node_ttl": 3}, {"heartbeat_interval": 0.6}),
        ({}, {"lease_ttl": 15, "renew_deadline": 10, "retry_period": 2, "cluster_call_timeout": 1}),
    ],
)
def test_unset_timings_follow_the_set_ones(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, float], expected: dict[str, float]
) -> None:
    """Setting one cluster timing alone is accepted: the unset ones keep the default ratios."""
    for field, value in given.items():
        monkeypatch.setenv(f"SENTIENT_{field.upper()}", str(value))
    s = load_settings()
    assert {field: getattr(s, field) for field in expected} == pytest.approx(expected)


def test_timings_set_explicitly_are_still_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only unset timings are derived: two set ones that contradict are refused."""
    monkeypatch.setenv("SENTIENT_RETRY_PERIOD", "0.4")
    monkeypatch.setenv("SENTIENT_CLUSTER_CALL_TIMEOUT", "1")
    with pytest.raises(ConfigurationError, match="SENTIENT_CLUSTER_CALL_TIMEOUT"):
        load_settings()
