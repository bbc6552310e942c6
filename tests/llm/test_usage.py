"""Token counts in one meaning, from each wire format's JSON and the official SDKs' objects."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from anthropic.types import MessageDeltaUsage
from anthropic.types import Usage as AnthropicSDKUsage
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from fastapi_sentient.llm._pricing import start_price_updates
from fastapi_sentient.llm._sdk._shapes import EventReader
from fastapi_sentient.llm._types import Usage
from fastapi_sentient.llm._usage import anthropic_usage, openai_usage, usage_from
from tests.support.procs import wait_until

OPENAI_CHAT = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 50, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 120, "audio_tokens": 0},
}
ANTHROPIC = {
    "input_tokens": 100,
    "cache_read_input_tokens": 900,
    "cache_creation_input_tokens": 200,
    "output_tokens": 300,
}


def test_openai_prompt_tokens_already_include_the_cache() -> None:
    """prompt_tokens is the input total; cache and reasoning tokens are parts of the totals."""
    expected = Usage(1200, 300, cache_read_tokens=1000, cache_write_tokens=50, reasoning_tokens=120)
    assert openai_usage(OPENAI_CHAT) == expected
    assert (
        usage_from(CompletionUsage.model_validate({**OPENAI_CHAT, "total_tokens": 1500}))
        == expected
    )


def test_openai_responses_api_usage() -> None:
    """The Responses API's input_tokens / *_details read the same way."""
    sdk = ResponseUsage.model_validate({
        "input_tokens": 1200, "output_tokens": 300, "total_tokens": 1500,
        "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 50},
        "output_tokens_details": {"reasoning_tokens": 120},
    })  # fmt: skip
    assert usage_from(sdk) == Usage(
        1200, 300, cache_read_tokens=1000, cache_write_tokens=50, reasoning_tokens=120
    )


def test_anthropic_input_tokens_exclude_the_cache() -> None:
    """Anthropic's input_tokens plus cache reads and writes is the input total."""
    expected = Usage(1200, 300, cache_read_tokens=900, cache_write_tokens=200)
    assert anthropic_usage(ANTHROPIC) == expected
    assert usage_from(AnthropicSDKUsage.model_validate(ANTHROPIC)) == expected


def test_anthropic_stream_usage_accumulates_over_events() -> None:
    """message_start gives the input side, message_delta the output total; the SDK's events too."""
    from anthropic.types import RawMessageDeltaEvent, RawMessageStartEvent

    start = RawMessageStartEvent.model_validate({
        "type": "message_start",
        "message": {"id": "m", "type": "message", "role": "assistant", "model": "claude-opus-4-5",
                    "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": {**ANTHROPIC, "output_tokens": 1}},
    })  # fmt: skip
    delta = RawMessageDeltaEvent.model_validate({
        "type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": MessageDeltaUsage.model_validate({"output_tokens": 300}).model_dump(),
    })  # fmt: skip
    reader = EventReader()
    reader.read(start)
    final = reader.read(delta)
    assert final.usage == Usage(1200, 300, cache_read_tokens=900, cache_write_tokens=200)
    assert final.finish_reason == "end_turn"


def test_missing_usage_is_zero() -> None:
    """No usage block: zero tokens, not an error."""
    assert usage_from(None) == Usage()
    assert openai_usage({}) == Usage()


@pytest.fixture
def price_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback server standing in for genai-prices' update URL; it records the paths asked."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(503)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prices.json", paths
    finally:
        server.shutdown()
        thread.join(5)


def test_price_updates_fetch_from_the_configured_url(price_server: tuple[str, list[str]]) -> None:
    """SENTIENT_LLM_PRICES_UPDATE_*: genai-prices' updater fetches from our URL; a failure is survivable."""
    url, paths = price_server
    updater = start_price_updates(3600, url)
    try:
        wait_until(lambda: bool(paths), 10, 0.02, "a price fetch")
    finally:
        updater.stop()
    assert paths[0] == "/prices.json"
