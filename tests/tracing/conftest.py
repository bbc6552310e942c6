"""Fixtures of the tracing tests: a real OTLP receiver, the fake provider, app settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fastapi_sentient.settings import SentientSettings
from tests.llm.fakes import OPENAI_KEY, FakeProvider
from tests.support.procs import port_open
from tests.tracing.otlp import OtlpReceiver

MACHINE_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

#: ``SENTIENT_TRACING_INSTRUMENTATION`` values, for tests that hold in both modes.
INSTRUMENTATIONS = ("sentient", "opentelemetry")
#: The instrumentation scope of each mode's server spans.
SERVER_SPAN_SCOPES = {
    "sentient": "fastapi_sentient",
    "opentelemetry": "opentelemetry.instrumentation.fastapi",
}
#: Attributes of the old HTTP semantic conventions, which neither mode may emit.
OLD_HTTP_ATTRIBUTES = ("http.method", "http.target", "http.status_code", "http.url", "http.scheme")


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """A running OTLP/HTTP receiver, with the exporter variables pointing at it."""
    server = OtlpReceiver().start()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def provider_fake() -> Iterator[FakeProvider]:
    """A fake OpenAI-compatible provider on loopback."""
    server = FakeProvider("openai", OPENAI_KEY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def machine_pg() -> str:
    """The machine's PostgreSQL, failing clearly when it is not running."""
    if not port_open(5432):
        pytest.fail("PostgreSQL is not listening on 127.0.0.1:5432")
    return MACHINE_PG


def tracing_settings(**overrides: Any) -> SentientSettings:
    """Quiet settings with tracing on at 100 %."""
    values: dict[str, Any] = {
        "system_checks": False,
        "handle_signals": False,
        "process_metrics": False,
        "tracing_enabled": True,
        "tracing_sample_ratio": 1.0,
    }
    values.update(overrides)
    return SentientSettings(**values)


def provider_entry(fake: FakeProvider) -> dict[str, Any]:
    """``SENTIENT_LLM_PROVIDERS`` pointing at ``fake``."""
    entry = {"kind": "openai", "base_url": fake.url, "api_key": OPENAI_KEY, "models": ["gpt-test"]}
    return json.loads(json.dumps({"openai": entry}))
