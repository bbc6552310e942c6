"""Settings that would make a probe lie stop startup with one line naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fastapi_sentient import ConfigurationError
from fastapi_sentient.settings import load_settings
from tests.support.procs import ROOT, free_port

KEY = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"

#: (variables, the variable the line must name) for every finding of the review.
FINDINGS = [
    ({"SENTIENT_DRAIN_PATH": "/ready"}, "SENTIENT_DRAIN_PATH"),
    ({"SENTIENT_LIVE_PATH": "/ready"}, "SENTIENT_LIVE_PATH"),
    ({"SENTIENT_METRICS_PATH": "/health"}, "SENTIENT_METRICS_PATH"),
    ({"SENTIENT_READY_PATH": "ready"}, "SENTIENT_READY_PATH"),
    ({"SENTIENT_HEALTH_PATH": "/he alth"}, "SENTIENT_HEALTH_PATH"),
    ({"SENTIENT_DRAIN_PATH": "/%64rain"}, "SENTIENT_DRAIN_PATH"),
    ({"SENTIENT_REQUEST_ID_HEADER": "X Request Id"}, "SENTIENT_REQUEST_ID_HEADER"),
    ({"SENTIENT_REQUEST_ID_HEADER": "Content-Length"}, "SENTIENT_REQUEST_ID_HEADER"),
    ({"SENTIENT_REQUEST_ID_HEADER": "Transfer-Encoding"}, "SENTIENT_REQUEST_ID_HEADER"),
    ({"SENTIENT_REQUEST_ID_HEADER": "Connection"}, "SENTIENT_REQUEST_ID_HEADER"),
    ({"SENTIENT_REQUEST_ID_HEADER": "Host"}, "SENTIENT_REQUEST_ID_HEADER"),
    ({"SENTIENT_REQUEST_ID_HEADER": "Authorization"}, "SENTIENT_REQUEST_ID_HEADER"),
    ({"SENTIENT_REQUEST_ID_HEADER": "X-Req-Idé"}, "SENTIENT_REQUEST_ID_HEADER"),
    ({"SENTIENT_REQUEST_ID_HEADER": "X-Req-Id☃"}, "SENTIENT_REQUEST_ID_HEADER"),
    ({"SENTIENT_SHUTDOWN_DELAY": "inf"}, "SENTIENT_SHUTDOWN_DELAY"),
    ({"SENTIENT_SHUTDOWN_DELAY": "100000"}, "SENTIENT_SHUTDOWN_DELAY"),
    ({"SENTIENT_DRAIN_TIMEOUT": "inf"}, "SENTIENT_DRAIN_TIMEOUT"),
    ({"SENTIENT_DRAIN_TIMEOUT": "nan"}, "SENTIENT_DRAIN_TIMEOUT"),
    ({"SENTIENT_DRAIN_TIMEOUT": "1e9"}, "SENTIENT_DRAIN_TIMEOUT"),
    ({"SENTIENT_HEALTH_INTERVAL": "1e-9"}, "SENTIENT_HEALTH_INTERVAL"),
    ({"SENTIENT_HEALTH_TIMEOUT": "inf"}, "SENTIENT_HEALTH_TIMEOUT"),
    ({"SENTIENT_DRAIN_UNDO_AFTER": "inf"}, "SENTIENT_DRAIN_UNDO_AFTER"),
    ({"SENTIENT_DRAIN_ENDPOINT": "true"}, "SENTIENT_DRAIN_ENDPOINT"),
    (
        {"SENTIENT_LLM_PROVIDERS": json.dumps({"p": {"kind": "openai", "timeout": "Infinity"}})},
        "SENTIENT_LLM_PROVIDERS",
    ),
    (
        {
            "SENTIENT_LLM_PROVIDERS": json.dumps(
                {"p": {"kind": "openai", "headers": {"Content-Length": KEY}}}
            )
        },
        "SENTIENT_LLM_PROVIDERS",
    ),
    (
        {
            "SENTIENT_LLM_PROVIDERS": json.dumps(
                {"p": {"kind": "openai", "headers": {"X-Key": KEY + "\r\nX-Evil: 1"}}}
            )
        },
        "SENTIENT_LLM_PROVIDERS",
    ),
]


@pytest.mark.parametrize(("variables", "named"), FINDINGS)
def test_each_finding_stops_startup_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    """One line, naming the variable, never quoting a secret."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert named in message
    assert KEY not in message


@pytest.mark.parametrize(
    "providers",
    [
        {"openai": KEY},
        {"openai": [KEY]},
        {"openai": {"kind": "openai", "api_key": KEY, "max_connections": "x"}},
        {"openai": {"kind": "nope", "api_key": KEY}},
        {"openai": {"kind": "openai", "headers": {"X-Api-Key": KEY, "Bad Name": KEY}}},
        {"openai": {"kind": "openai", "headers": KEY}},
    ],
)
def test_provider_configuration_errors_never_echo_the_key(
    monkeypatch: pytest.MonkeyPatch, providers: dict[str, object]
) -> None:
    """A provider entry given in any wrong shape is named, and its key never printed."""
    monkeypatch.setenv("SENTIENT_LLM_PROVIDERS", json.dumps(providers))
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "SENTIENT_LLM_PROVIDERS" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY[:12] not in str(caught.value)


def test_broken_json_is_named_not_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider variable that is not JSON is named; its text (with the key) is not printed."""
    monkeypatch.setenv("SENTIENT_LLM_PROVIDERS", '{"openai": "' + KEY)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "SENTIENT_LLM_PROVIDERS" in str(caught.value)
    assert KEY not in str(caught.value)


def test_add_provider_errors_never_echo_the_key() -> None:
    """sentient.llm.add_provider with a bad option names the option, not the key."""
    from fastapi import FastAPI

    from fastapi_sentient import include_plugin

    sentient = include_plugin(FastAPI(), load_settings())
    with pytest.raises(ConfigurationError) as caught:
        sentient.llm.add_provider("p", kind="openai", api_key=KEY, max_connections="many")
    assert "max_connections" in str(caught.value)
    assert KEY not in str(caught.value)


@pytest.mark.integration
def test_uvicorn_stops_with_one_line_for_a_drain_on_the_ready_path() -> None:
    """A real uvicorn start with SENTIENT_DRAIN_PATH=/ready exits non-zero; stderr has one line
    naming the variable and no traceback."""
    env = {
        **os.environ,
        "SENTIENT_DRAIN_PATH": "/ready",
        "SENTIENT_DRAIN_ENDPOINT": "true",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "example_app.main:app", "--port", str(free_port())],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "SENTIENT_DRAIN_PATH" in line]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
