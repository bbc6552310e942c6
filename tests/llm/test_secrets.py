"""API keys never appear in errors, logs, metrics or /health."""

from __future__ import annotations

import logging

import pytest

from fastapi_sentient.llm import ProviderError
from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running

#: Not shaped like a vendor key, so only our own registration can mask it.
SECRET = "plain-secret-value-7f3a9c21"


async def test_key_echoed_by_provider_is_masked_everywhere(
    openai_fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """A provider quoting our key back: error text, logs, /metrics and /health stay clean."""
    caplog.set_level(logging.DEBUG)
    openai_fake.key = SECRET
    openai_fake.echo_key = True
    openai_fake.status = 500
    openai_fake.models_status = 403
    entries = providers(openai_fake, api_key=SECRET)
    app, _ = llm_app(entries, health_details="always", llm_retry_attempts=2)
    async with running(app) as client:
        sentient = app.state.sentient
        with pytest.raises(ProviderError) as info:
            await sentient.llm.generate(
                "openai", model="gpt-test", messages=[{"role": "user", "content": "x"}]
            )
        metrics = (await client.get("/metrics")).text
        health = (await client.get("/health")).text
    assert openai_fake.headers[-1]["authorization"] == f"Bearer {SECRET}"  # it was sent
    assert "got" in str(info.value)  # the echoed detail is there ...
    assert SECRET not in str(info.value)  # ... with the key masked
    assert SECRET not in caplog.text
    assert SECRET not in metrics
    assert "403" in health
    assert SECRET not in health


async def test_key_from_standard_variable_is_used_and_masked(
    openai_fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENAI_API_KEY authenticates a provider without api_key and is masked like one."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    openai_fake.key = SECRET
    entries = providers(openai_fake)
    del entries["openai"]["api_key"]
    app, sentient = llm_app(entries, health_details="always")
    async with running(app):
        result = await sentient.llm.generate(
            "openai", model="gpt-test", messages=[{"role": "user", "content": "x"}]
        )
    assert result.text == "Hello, world"
    assert sentient.redact(f"key={SECRET}") == "key=***"
