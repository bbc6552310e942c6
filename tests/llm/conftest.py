"""Fixtures of the LLM tests: the fake providers and apps wired to them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from fastapi_sentient import Sentient, include_plugin
from tests.llm.fakes import ANTHROPIC_KEY, OPENAI_KEY, FakeProvider
from tests.support.asgi import quiet_settings


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeProvider]:
    server = FakeProvider("openai", OPENAI_KEY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _anthropic_server() -> Iterator[FakeProvider]:
    server = FakeProvider("anthropic", ANTHROPIC_KEY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openai_fake(_openai_server: FakeProvider) -> FakeProvider:
    """The fake OpenAI-compatible provider, reset for this test."""
    _openai_server.reset()
    return _openai_server


@pytest.fixture
def anthropic_fake(_anthropic_server: FakeProvider) -> FakeProvider:
    """The fake Anthropic-compatible provider, reset for this test."""
    _anthropic_server.reset()
    return _anthropic_server


def providers(
    openai: FakeProvider | None = None, anthropic: FakeProvider | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``SENTIENT_LLM_PROVIDERS`` value for the fakes."""
    entries: dict[str, Any] = {}
    if openai is not None:
        entries["openai"] = {"kind": "openai", "base_url": openai.url, "api_key": OPENAI_KEY,
                             "models": ["gpt-test"], "timeout": 5.0, **extra}  # fmt: skip
    if anthropic is not None:
        entries["anthropic"] = {"kind": "anthropic", "base_url": anthropic.url,
                                "api_key": ANTHROPIC_KEY, "models": ["claude-test"],
                                "timeout": 5.0, **extra}  # fmt: skip
    return entries


def llm_app(entries: dict[str, Any], **settings: Any) -> tuple[FastAPI, Sentient]:
    """An app whose LLM layer talks to ``entries`` (fast retries, quiet defaults)."""
    values: dict[str, Any] = {
        "llm_providers": json.loads(json.dumps(entries)),
        "llm_retry_base_delay": 0.01,
        "llm_retry_max_delay": 0.05,
    }
    values.update(settings)
    app = FastAPI()
    return app, include_plugin(app, quiet_settings(**values))
