"""Fake OpenAI-compatible and Anthropic-compatible providers: real HTTP on 127.0.0.1.

Each fake is a small Starlette app served by uvicorn in a thread.  It counts
requests by method and path (and the POSTs in flight at once), checks the API
key, and can be told to answer an error status (with Retry-After), to stall, to
hold streams after their first chunk until released, or to answer from a
script of statuses, one per request.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.llm.wire_checks import anthropic_problem, openai_problem
from tests.support.procs import free_port, wait_until

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"


class FakeProvider:
    """One fake provider (``kind`` openai or anthropic) on a free loopback port."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.default_key = key
        self.port = free_port()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.reset()
        app = Starlette(
            routes=[
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/messages", self._messages, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(
            self._counting(app),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    # --- control ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to healthy answers, the default key and zero counts."""
        self.key = self.default_key
        with self._lock:
            self.counts: Counter[tuple[str, str]] = Counter()
            self.post_times: list[float] = []
            self.bodies: list[dict[str, Any]] = []
            self.headers: list[dict[str, str]] = []
        self.status: int | None = None
        self.script: deque[int] = deque()
        self.retry_after: str | None = None
        self.delay = 0.0
        self.models_status: int | None = None
        self.usage = (11, 3)
        """(input, output) in our meaning: input includes the cache, output the reasoning."""
        self.cache_read = 0
        self.cache_write = 0
        self.reasoning = 0
        self.tool_calls: list[tuple[str, str, dict[str, Any]]] = []
        """(id, name, arguments) of the tool calls to answer with."""
        self.problems: list[str] = []
        """Why request bodies were refused (the wire checks)."""
        self.chunks = ["Hello", ", ", "world"]
        self.chunk_delay = 0.0
        self.echo_key = False
        self.hold = False
        self._released = threading.Event()
        with self._lock:
            self.max_in_flight = self.in_flight

    def release(self) -> None:
        """Let streams held after their first chunk (``hold``) go on."""
        self._released.set()

    @property
    def url(self) -> str:
        """The API root, as ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def count(self, method: str, path: str) -> int:
        """Requests seen for ``method path`` (path under /v1)."""
        with self._lock:
            return self.counts[(method, "/v1/" + path)]

    @property
    def posts(self) -> int:
        """POST requests seen (billed calls, on a real provider)."""
        with self._lock:
            return sum(n for (method, _), n in self.counts.items() if method == "POST")

    def start(self) -> FakeProvider:
        self._thread.start()
        wait_until(lambda: self._server.started, 10, 0.01, f"fake {self.kind} server")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    # --- handlers -----------------------------------------------------------------------------

    def _counting(self, app: Any) -> Any:
        """``app`` counting POSTs in flight, from the request to the last byte of the answer."""

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["method"] != "POST":
                await app(scope, receive, send)
                return
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await app(scope, receive, send)
            finally:
                with self._lock:
                    self.in_flight -= 1

        return counted

    async def _held(self) -> None:
        """Wait while ``hold`` is set and ``release()`` has not been called (10 s at most)."""
        deadline = time.monotonic() + 10.0
        released = self._released
        while self.hold and not released.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def _record(self, request: Request, body: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.counts[(request.method, request.url.path)] += 1
            self.headers.append(dict(request.headers))
            if body is not None:
                self.bodies.append(body)
                self.post_times.append(time.monotonic())

    def _authorized(self, request: Request) -> bool:
        if self.kind == "anthropic":
            return request.headers.get("x-api-key") == self.key
        return request.headers.get("authorization") == f"Bearer {self.key}"

    def _error(self, status: int, request: Request) -> Response:
        detail = "overloaded" if status in (503, 529) else "error"
        if self.echo_key:  # a careless provider quoting the credentials it got
            detail += (
                f" (got {request.headers.get('authorization') or request.headers.get('x-api-key')})"
            )
        headers = {"retry-after": self.retry_after} if self.retry_after else {}
        body = {"type": "error", "error": {"type": "api_error", "message": detail}}
        return JSONResponse(body, status_code=status, headers=headers)

    async def _models(self, request: Request) -> Response:
        self._record(request)
        if not self._authorized(request):
            return self._error(401, request)
        if self.models_status is not None:
            return self._error(self.models_status, request)
        return JSONResponse({"data": [{"id": "model-a"}, {"id": "model-b"}], "object": "list"})

    async def _prelude(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        body = await request.json()
        self._record(request, body)
        if not self._authorized(request):
            return body, self._error(401, request)
        check = anthropic_problem if request.url.path.endswith("/messages") else openai_problem
        problem = check(body)
        if problem is not None:
            self.problems.append(problem)
            error = {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": problem},
            }
            return body, JSONResponse(error, status_code=400)
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.script.popleft() if self.script else self.status
        if status is not None and status >= 400:
            return body, self._error(status, request)
        return body, None

    async def _chat(self, request: Request) -> Response:
        body, error = await self._prelude(request)
        if error is not None:
            return error
        model = body.get("model", "")
        usage = {
            "prompt_tokens": self.usage[0],
            "completion_tokens": self.usage[1],
            "prompt_tokens_details": {"cached_tokens": self.cache_read, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning, "audio_tokens": 0},
        }
        calls = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, n, a in self.tool_calls
        ]
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": "".join(self.chunks),
                                **({"tool_calls": calls} if calls else {}),
                            },
                            "finish_reason": "tool_calls" if calls else "stop",
                        }
                    ],
                    "usage": {**usage, "total_tokens": sum(self.usage)},
                }
            )

        head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model}

        async def events() -> AsyncIterator[str]:
            for index, piece in enumerate(self.chunks):
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
                if index == 1:
                    await self._held()
                delta = {"content": piece}
                yield f"data: {json.dumps({**head, 'choices': [{'index': 0, 'delta': delta}]})}\n\n"
            for index, (call_id, name, arguments) in enumerate(self.tool_calls):
                text = json.dumps(arguments)
                pieces = [text[: len(text) // 2], text[len(text) // 2 :]]
                head_delta = {"index": index, "id": call_id, "type": "function",
                              "function": {"name": name, "arguments": ""}}  # fmt: skip
                deltas = [head_delta] + [
                    {"index": index, "function": {"arguments": piece}} for piece in pieces
                ]
                for delta in deltas:
                    choice = {"index": 0, "delta": {"tool_calls": [delta]}}
                    yield f"data: {json.dumps({**head, 'choices': [choice]})}\n\n"
            finish = "tool_calls" if self.tool_calls else "stop"
            done = {"index": 0, "delta": {}, "finish_reason": finish}
            yield f"data: {json.dumps({**head, 'choices': [done]})}\n\n"
            yield f"data: {json.dumps({**head, 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _messages(self, request: Request) -> Response:
        body, error = await self._prelude(request)
        if error is not None:
            return error
        model = body.get("model", "")
        text = "".join(self.chunks)
        inputs = {
            "input_tokens": self.usage[0] - self.cache_read - self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation_input_tokens": self.cache_write,
        }
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [
                        {"type": "text", "text": text},
                        *(
                            {"type": "tool_use", "id": i, "name": n, "input": a}
                            for i, n, a in self.tool_calls
                        ),
                    ],
                    "stop_reason": "tool_use" if self.tool_calls else "end_turn",
                    "stop_sequence": None,
                    "usage": {**inputs, "output_tokens": self.usage[1]},
                }
            )

        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

        async def events() -> AsyncIterator[str]:
            start = {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                     "content": [], "usage": {**inputs, "output_tokens": 1}}  # fmt: skip
            yield event("message_start", {"message": start})
            yield event(
                "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
            )
            for index, piece in enumerate(self.chunks):
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
                if index == 1:
                    await self._held()
                yield event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            yield event("content_block_stop", {"index": 0})
            for index, (call_id, name, arguments) in enumerate(self.tool_calls, start=1):
                block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
                yield event("content_block_start", {"index": index, "content_block": block})
                text = json.dumps(arguments)
                for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    yield event("content_block_delta", {"index": index, "delta": delta})
                yield event("content_block_stop", {"index": index})
            stop = "tool_use" if self.tool_calls else "end_turn"
            yield event(
                "message_delta",
                {"delta": {"stop_reason": stop}, "usage": {"output_tokens": self.usage[1]}},
            )
            yield event("message_stop", {})

        return StreamingResponse(events(), media_type="text/event-stream")
