"""Anthropic messages: the vendor's facts and its wire format.

System messages (and ``request.system``) become the top-level ``system``;
OpenAI-shaped assistant ``tool_calls`` become ``tool_use`` blocks and ``tool``
messages ``tool_result`` blocks of a user turn; images (ours or OpenAI's
``image_url``) become ``image`` blocks; tools, tool choice and the response
schema take Anthropic's names.  What Anthropic has no equivalent for (OpenAI
``input_audio`` and ``file`` parts, OpenAI-only tools) raises
:class:`Untranslatable`.  Streamed usage comes from ``message_start`` and
``message_delta``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi_sentient.llm._adapters._content import (
    ANTHROPIC_STOP,
    Untranslatable,
    image_of,
    native_tool,
    stop_reason,
    tool_calls_of,
    tool_choice_of,
)
from fastapi_sentient.llm._adapters._format import Redact, StreamState
from fastapi_sentient.llm._errors import ProviderError
from fastapi_sentient.llm._types import Completion, LLMRequest, StreamEvent, Tool, ToolCall, Usage
from fastapi_sentient.llm._usage import AnthropicUsage, anthropic_usage

KIND = "anthropic"
BASE_URL = "https://api.anthropic.com/v1"
KEY_VARIABLE = "ANTHROPIC_API_KEY"
#: The ``anthropic-version`` header sent unless a provider entry names another.
API_VERSION = "2023-06-01"
#: Anthropic requires max_tokens: the default of SENTIENT_LLM_ANTHROPIC_MAX_TOKENS.
DEFAULT_MAX_TOKENS = 4096
PATH = "messages"


def auth_headers(api_key: str | None, version: str = API_VERSION) -> dict[str, str]:
    """``anthropic-version`` always, ``x-api-key`` when there is a key."""
    headers = {"anthropic-version": version}
    if api_key:
        headers["x-api-key"] = api_key
    return headers


def sdk_base_url(base_url: str) -> str:
    """``base_url`` as the ``anthropic`` SDK takes it: without ``/v1``, which it appends itself."""
    return base_url.rstrip("/").removesuffix("/v1")


class AnthropicFormat:
    """``POST messages``; streamed usage comes from ``message_start`` and ``message_delta``."""

    kind = KIND
    path = PATH
    end_of_stream = "message_stop"

    def __init__(self, *, max_tokens: int | None = None) -> None:
        """``max_tokens``: sent when a call gives none (Anthropic requires one)."""
        self.max_tokens = max_tokens or DEFAULT_MAX_TOKENS

    def payload(self, request: LLMRequest, *, stream: bool = False) -> dict[str, Any]:
        """The request body; raises ``Untranslatable`` for what messages cannot take."""
        return payload(request, stream=stream, max_tokens=self.max_tokens)

    def completion(self, data: dict[str, Any]) -> Completion:
        """The text blocks and tool uses of a message."""
        blocks = data.get("content") or []
        text = "".join(
            str(b.get("text", ""))
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
        calls = tuple(
            ToolCall.from_json(str(b.get("id") or ""), str(b.get("name") or ""), "")
            if not isinstance(b.get("input"), dict)
            else ToolCall(
                str(b.get("id") or ""), str(b.get("name") or ""), b["input"], json.dumps(b["input"])
            )
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "tool_use"
        )
        return Completion(
            text=text,
            usage=_usage(data.get("usage")) or Usage(),
            response_model=data.get("model"),
            finish_reason=data.get("stop_reason"),
            raw=data,
            tool_calls=calls,
            stop_reason=stop_reason(data.get("stop_reason"), ANTHROPIC_STOP),
        )

    def reader(self, *, provider: str, model: str, redact: Redact) -> StreamReader:
        """A reader of one stream of message events."""
        return StreamReader(provider=provider, model=model, redact=redact)


class StreamReader(StreamState):
    """Text and tool-input deltas by content block, then one event with usage at ``message_stop``."""

    stop_reasons = ANTHROPIC_STOP

    def __init__(self, *, provider: str, model: str, redact: Redact) -> None:
        super().__init__(provider=provider, model=model, redact=redact)
        self.usage = AnthropicUsage()

    def read(self, event: str, data: str) -> Iterator[StreamEvent]:
        """Our events for one message event; an ``error`` event raises."""
        if event == "ping" or not data:
            return
        decoded = self.decode(data)
        kind = decoded.get("type", event)
        if kind == "message_start":
            message = decoded.get("message") or {}
            self.response_model = message.get("model")
            self.usage.merge(message.get("usage"))
        elif kind == "content_block_start":
            block = decoded.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = int(decoded.get("index", 0))
                self.calls.start(index, block.get("id"), block.get("name"))
                yield StreamEvent(tool_call_delta=True)
        elif kind == "content_block_delta":
            delta = decoded.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                yield StreamEvent(text=str(delta["text"]))
            elif delta.get("type") == "input_json_delta":
                self.calls.add(int(decoded.get("index", 0)), delta.get("partial_json"))
                yield StreamEvent(tool_call_delta=True)
        elif kind == "message_delta":
            self.finish = (decoded.get("delta") or {}).get("stop_reason") or self.finish
            self.usage.merge(decoded.get("usage"))
        elif kind == "message_stop":
            yield self.done(self.usage.usage)
        elif kind == "error":
            error = decoded.get("error") or {}
            overloaded = isinstance(error, dict) and error.get("type") == "overloaded_error"
            msg = self.redact(f"{self.provider} stream error: {str(error)[:300]}")
            status = 529 if overloaded else 500
            raise ProviderError(msg, provider=self.provider, model=self.model, status=status)


def _usage(data: Any) -> Usage | None:
    return anthropic_usage(data) if isinstance(data, dict) else None


# --- the request body --------------------------------------------------------------------

#: Anthropic's own content blocks, sent as they are.
NATIVE_BLOCKS = frozenset(
    {"document", "search_result", "tool_use", "tool_result", "thinking", "redacted_thinking"}
)


def payload(request: LLMRequest, *, stream: bool, max_tokens: int) -> dict[str, Any]:
    """The messages body for ``request``; ``max_tokens`` when the request gives none."""
    system: list[Any] = []
    if request.system is not None:
        system.append(request.system)
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        role = message.get("role")
        if role == "system":
            system.append(message.get("content"))
        elif role == "tool":
            _append(messages, "user", [_tool_result(message)])
        else:
            _append(messages, str(role), _blocks(message))
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    params = {k: v for k, v in request.parameters.items() if v is not None}
    if "stop" in params:  # OpenAI's name
        stop = params.pop("stop")
        params.setdefault("stop_sequences", [stop] if isinstance(stop, str) else list(stop))
    body.update(params)
    body.setdefault("max_tokens", max_tokens)
    if system:
        body["system"] = _system(system)
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    choice = tool_choice_of(request.tool_choice)
    if choice is not None:
        mode, name = choice
        kinds = {"auto": "auto", "none": "none", "required": "any", "tool": "tool"}
        body["tool_choice"] = {"type": kinds[mode], **({"name": name} if name else {})}
    if request.response_schema is not None:
        body["output_config"] = {
            **body.get("output_config", {}),
            "format": {"type": "json_schema", "schema": request.response_schema.wire_schema()},
        }
    if stream:
        body["stream"] = True
    return body


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]] | str) -> None:
    """Add a turn; tool results following one another share one user turn."""
    last = messages[-1] if messages else None
    if (
        last is not None
        and role == "user"
        and last["role"] == "user"
        and isinstance(last["content"], list)
        and isinstance(blocks, list)
        and all(b.get("type") == "tool_result" for b in [*last["content"], *blocks])
    ):
        last["content"].extend(blocks)
        return
    messages.append({"role": role, "content": blocks})


def _system(parts: list[Any]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, str) for p in parts):
        return "\n\n".join(parts)
    blocks: list[dict[str, Any]] = []
    for part in parts:
        converted = _content(part, "system")
        if isinstance(converted, str):
            blocks.append({"type": "text", "text": converted})
        else:
            for block in converted:
                if block["type"] != "text":
                    msg = f"a {block['type']!r} part in a system prompt"
                    raise Untranslatable(msg)
                blocks.append(block)
    return blocks


def _tool(tool: Tool) -> dict[str, Any]:
    native = native_tool(tool, KIND)
    if native is not None:
        return native
    out: dict[str, Any] = {"name": tool.name, "input_schema": dict(tool.parameters)}
    if tool.description:
        out["description"] = tool.description
    if tool.cache_control is not None:
        out["cache_control"] = dict(tool.cache_control)
    return out


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not call_id:
        msg = "a tool message without tool_call_id"
        raise Untranslatable(msg)
    content = message.get("content")
    return {
        "type": "tool_result",
        "tool_use_id": call_id,
        "content": content
        if content is None or isinstance(content, str)
        else _content(content, "tool"),
    }


def _blocks(message: Mapping[str, Any]) -> list[dict[str, Any]] | str:
    content = _content(message.get("content"), str(message.get("role")))
    calls = tool_calls_of(message)
    if not calls:
        return content
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    blocks = [b for b in blocks if not (b.get("type") == "text" and not b.get("text"))]
    blocks += [
        {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        for call in calls
    ]
    return blocks


def _content(content: Any, role: str) -> list[dict[str, Any]] | str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            blocks.append({"type": "text", "text": part})
            continue
        kind = part.get("type")
        if kind == "text":
            block: dict[str, Any] = {"type": "text", "text": part.get("text", "")}
            if part.get("cache_control") is not None:
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
        elif kind in ("image", "image_url"):
            blocks.append(_image(part))
        elif kind in NATIVE_BLOCKS:
            blocks.append(dict(part))
        else:
            msg = f"a {kind!r} part in a {role} message"
            raise Untranslatable(msg)
    return blocks


def _image(part: Mapping[str, Any]) -> dict[str, Any]:
    image = image_of(part)
    assert image is not None
    if image.url is not None:
        source: dict[str, Any] = {"type": "url", "url": image.url}
    else:
        source = {"type": "base64", "media_type": image.media_type, "data": image.data}
    block: dict[str, Any] = {"type": "image", "source": source}
    if part.get("cache_control") is not None:
        block["cache_control"] = part["cache_control"]
    return block
