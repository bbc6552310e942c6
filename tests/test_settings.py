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
