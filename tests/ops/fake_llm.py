"""A real HTTP server on 127.0.0.1 that answers like an OpenAI-compatible provider.

Enough of the wire format for the LLM layer to record its metrics: the model
list (health probe), chat completions with usage, and streamed chat completions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-ops-test"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is for assertions."""

    def _json(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json({"object": "list", "data": [{"id": MODEL, "object": "model"}]})
            return
        self.send_error(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.send_error(404)
            return
        usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
        model = request.get("model", MODEL)
        if request.get("stream"):
            self._stream(model, usage)
            return
        self._json(
            {
                "id": "chatcmpl-ops",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ready"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )

    def _stream(self, model: str, usage: dict[str, int]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        base = {"id": "chatcmpl-ops", "object": "chat.completion.chunk", "model": model}
        for text in ("rea", "dy"):
            chunk = {**base, "choices": [{"index": 0, "delta": {"content": text}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        final = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
        self.wfile.write(
            f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode()
        )
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


@contextmanager
def fake_openai() -> Iterator[str]:
    """Serve the fake provider for a ``with`` block; yields its base URL (…/v1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-openai", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def providers_env(base_url: str) -> str:
    """``SENTIENT_LLM_PROVIDERS`` naming the fake provider ``fake``."""
    return json.dumps(
        {
            "fake": {
                "kind": "openai",
                "base_url": base_url,
                "api_key": "sk-ops-test-key",
                "models": [MODEL],
                "prices": {MODEL: [1.0, 2.0]},
            }
        }
    )
