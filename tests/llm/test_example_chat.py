"""The example app's /chat route in a real uvicorn process."""

from __future__ import annotations

import json
import signal

import httpx2
import pytest

from tests.llm.fakes import OPENAI_KEY, FakeProvider
from tests.support.procs import app_process

TARGET = "example_app.main:app"


def provider_env(fake: FakeProvider) -> dict[str, str]:
    entry = {"kind": "openai", "base_url": fake.url, "models": ["gpt-test"]}
    return {"SENTIENT_LLM_PROVIDERS": json.dumps({"openai": entry}), "OPENAI_API_KEY": OPENAI_KEY}


@pytest.mark.integration
def test_chat_without_provider_says_so() -> None:
    """No provider configured: /chat answers 503 naming SENTIENT_LLM_PROVIDERS; the app is ready."""
    with app_process(TARGET) as app:
        response = httpx2.post(app.url + "/chat", json={"message": "hi"}, timeout=5)
    assert response.status_code == 503
    assert "SENTIENT_LLM_PROVIDERS" in response.json()["error"]


@pytest.mark.integration
def test_chat_streams_sse_then_ends_cleanly_on_drain(openai_fake: FakeProvider) -> None:
    """/chat streams chunks as SSE ending with event: done; on SIGTERM mid-stream, event: shutdown."""
    with app_process(TARGET, env=provider_env(openai_fake)) as app:
        response = httpx2.post(app.url + "/chat", json={"message": "hi"}, timeout=10)
        assert response.headers["content-type"].startswith("text/event-stream")
        texts = [
            json.loads(line[6:])["text"]
            for line in response.text.splitlines()
            if line.startswith('data: {"text"')
        ]
        assert texts == ["Hello", ", ", "world"]
        assert "event: done" in response.text
        assert '"input": 11' in response.text

        openai_fake.chunks = ["tick "] * 200
        openai_fake.chunk_delay = 0.05
        with httpx2.stream("POST", app.url + "/chat", json={"message": "hi"}, timeout=20) as r:
            lines = r.iter_lines()
            for line in lines:
                if line.startswith("data: "):
                    break
            app.signal(signal.SIGTERM)
            rest = list(lines)
        code = app.wait_exit(20)
        output = app.output()
    assert "event: shutdown" in rest
    assert "event: done" not in rest
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after its shutdown
    assert "Application shutdown complete." in output
