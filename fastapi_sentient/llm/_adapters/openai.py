"""OpenAI chat completions: the vendor's facts and its wire format.

Spoken by OpenAI and by every OpenAI-compatible server (Azure-style gateways,
vLLM, Ollama's ``/v1``, LiteLLM, OpenRouter).  Messages are in OpenAI's shape
already; what needs translating are our own parts (``image``), Anthropic's
(``image`` with ``source``, ``tool_use`` and ``tool_result`` blocks of messages
written for Anthropic) and the tools, tool choice and response schema.
Anthropic-only things (``document`` parts, server tools, thinking blocks) raise
:class:`Untranslatable`.  Streaming asks for the final usage chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fastapi_sentient.llm._adapters._content import (
    OPENAI_STOP,
    Untranslatable,
    image_of,
    native_tool,
    stop_reason,
    text_of,
    tool_calls_of,
    tool_choice_of,
)
from fastapi_sentient.llm._adapters._format import Redact, StreamState
from fastapi_sentient.llm._types import (
    Completion,
    LLMRequest,
    Message,
    StreamEvent,
    Tool,
    ToolCall,
    Usage,
)
from fastapi_sentient.llm._usage import openai_usage

KIND = "openai"
BASE_URL = "https://api.openai.com/v1"
KEY_VARIABLE = "OPENAI_API_KEY"
#: ``provider_name`` values that are OpenAI's own API, which takes ``max_completion_tokens``.
OPENAI_ITSELF = frozenset({"openai", "azure.ai.openai"})
PATH = "chat/completions"


def auth_headers(api_key: str | None) -> dict[str, str]:
    """A bearer token, when there is a key (a local server may need none)."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class OpenAIFormat:
    """``POST chat/completions``; streaming asks for the final usage chunk."""

    kind = KIND
    path = PATH
    end_of_stream = "[DONE]"

    def __init__(
        self, *, max_tokens: int | None = None, max_tokens_name: str = "max_tokens"
    ) -> None:
        """``max_tokens``: sent when a call gives none (None: the server's default).

        ``max_tokens_name``: the field the limit goes in (``max_completion_tokens``
        for OpenAI itself, whose reasoning models refuse ``max_tokens``).
        """
        self.max_tokens = max_tokens
        self.max_tokens_name = max_tokens_name

    def payload(self, request: LLMRequest, *, stream: bool = False) -> dict[str, Any]:
        """The request body; raises ``Untranslatable`` for what chat completions cannot take."""
        return payload(
            request, stream=stream, max_tokens=self.max_tokens, max_tokens_name=self.max_tokens_name
        )

    def completion(self, data: dict[str, Any]) -> Completion:
        """The answer in a chat completion's first choice."""
        choices = data.get("choices") or [{}]
        message = choices[0].get("message") or {}
        finish = choices[0].get("finish_reason")
        return Completion(
            text=str(message.get("content") or ""),
            usage=_usage(data.get("usage")) or Usage(),
            response_model=data.get("model"),
            finish_reason=finish,
            raw=data,
            tool_calls=_tool_calls(message),
            stop_reason=stop_reason(finish, OPENAI_STOP),
        )

    def reader(self, *, provider: str, model: str, redact: Redact) -> StreamReader:
        """A reader of one stream of chat completion chunks."""
        return StreamReader(provider=provider, model=model, redact=redact)


class StreamReader(StreamState):
    """Text and tool-call deltas of choice 0, then one event with usage at ``[DONE]``."""

    stop_reasons = OPENAI_STOP
    usage: Usage | None = None

    def read(self, event: str, data: str) -> Iterator[StreamEvent]:
        """Our events for one chunk."""
        if data.strip() == "[DONE]":
            yield self.done(self.usage)
            return
        chunk = self.decode(data)
        self.response_model = chunk.get("model") or self.response_model
        self.usage = _usage(chunk.get("usage")) or self.usage
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            self.finish = choice.get("finish_reason") or self.finish
            delta = choice.get("delta") or {}
            for item in delta.get("tool_calls") or ():
                index = int(item.get("index", 0))
                function = item.get("function") or {}
                self.calls.start(index, item.get("id"), function.get("name"))
                self.calls.add(index, function.get("arguments"))
            if delta.get("tool_calls"):
                yield StreamEvent(tool_call_delta=True)
            text = delta.get("content")
            if text:
                yield StreamEvent(text=str(text))


def _tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for item in message.get("tool_calls") or ():
        function = item.get("function") or {}
        arguments = function.get("arguments") or ""
        calls.append(
            ToolCall.from_json(
                str(item.get("id") or ""), str(function.get("name") or ""), arguments
            )
        )
    return tuple(calls)


def _usage(data: dict[str, Any] | None) -> Usage | None:
    return openai_usage(data) if isinstance(data, dict) else None


# --- the request body --------------------------------------------------------------------

#: Parts OpenAI chat takes as they are.
NATIVE_PARTS = frozenset({"image_url", "input_audio", "file", "refusal"})


def payload(
    request: LLMRequest,
    *,
    stream: bool,
    max_tokens: int | None,
    max_tokens_name: str = "max_tokens",
) -> dict[str, Any]:
    """The chat completions body for ``request``.

    ``max_tokens_name`` is what the output limit is sent as: OpenAI's reasoning
    models refuse ``max_tokens`` and take ``max_completion_tokens`` (which every
    current OpenAI model takes); other servers of the format know ``max_tokens``.
    """
    messages: list[dict[str, Any]] = []
    if request.system is not None:
        messages.append({"role": "system", "content": _content(request.system, "system")})
    for message in request.messages:
        messages.extend(_messages(message))
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    choice = tool_choice_of(request.tool_choice)
    if choice is not None:
        mode, name = choice
        body["tool_choice"] = (
            {"type": "function", "function": {"name": name}} if mode == "tool" else mode
        )
    if request.response_schema is not None:
        schema = request.response_schema
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": schema.name,
                "schema": schema.wire_schema(),
                "strict": schema.strict,
            },
        }
    body.update({k: v for k, v in request.parameters.items() if v is not None})
    if max_tokens_name != "max_tokens" and "max_tokens" in body:
        limit = body.pop("max_tokens")
        body.setdefault(max_tokens_name, limit)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _tool(tool: Tool) -> dict[str, Any]:
    native = native_tool(tool, KIND)
    if native is not None:
        return native
    function: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _messages(message: Message | Mapping[str, Any]) -> list[dict[str, Any]]:
    """One message, or several: Anthropic tool results become one ``tool`` message each."""
    role = message.get("role")
    content = message.get("content")
    if role == "tool":
        text = text_of(content)
        if text is None:
            msg = "a tool result holding anything but text"
            raise Untranslatable(msg)
        return [{"role": "tool", "tool_call_id": message.get("tool_call_id"), "content": text}]
    if isinstance(content, list) and any(_is(p, "tool_result") for p in content):
        return _tool_results(role, content)
    calls = tool_calls_of(message)
    if isinstance(content, list) and any(_is(p, "tool_use") for p in content):
        calls += tool_calls_of({"tool_calls": [p for p in content if _is(p, "tool_use")]})
        content = [p for p in content if not _is(p, "tool_use")]
    out: dict[str, Any] = {"role": role, "content": _content(content, str(role))}
    if calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for call in calls
        ]
        if not out["content"]:
            out["content"] = None
    extra = {k: v for k, v in message.items() if k not in ("role", "content", "tool_calls")}
    out.update(extra)
    return [out]


def _tool_results(role: Any, content: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rest = []
    for part in content:
        if not _is(part, "tool_result"):
            rest.append(part)
            continue
        text = text_of(part.get("content"))
        if text is None:
            msg = "a tool result holding anything but text"
            raise Untranslatable(msg)
        out.append({"role": "tool", "tool_call_id": part.get("tool_use_id"), "content": text})
    if rest:
        out.append({"role": role, "content": _content(rest, str(role))})
    return out


def _is(part: Any, kind: str) -> bool:
    return isinstance(part, Mapping) and part.get("type") == kind


def _content(content: Any, role: str) -> Any:
    if content is None or isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            parts.append({"type": "text", "text": part})
            continue
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            parts.append(dict(part))
        elif kind == "image":
            image = image_of(part)
            assert image is not None
            url = image.url or f"data:{image.media_type or 'image/png'};base64,{image.data}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif kind in NATIVE_PARTS:
            parts.append(dict(part))
        else:
            msg = f"a {kind!r} part in a {role} message"
            raise Untranslatable(msg)
    if role in ("system", "assistant") and all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts) if role == "assistant" else parts
    return parts
