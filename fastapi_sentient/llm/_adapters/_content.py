"""What both wire adapters share to translate agent calls: parts, tool calls, stop reasons.

Each adapter builds its wire format from the request's neutral shapes
(:mod:`fastapi_sentient.llm._types`) and raises :class:`Untranslatable` for
anything its format cannot express; the registry turns that into an
:class:`~fastapi_sentient.llm._errors.UnsupportedRequestError` before any
request of the call is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi_sentient.llm._types import StopReason, Tool, ToolCall


class Untranslatable(ValueError):
    """The request holds something this wire format has no way to say."""


@dataclass(frozen=True, slots=True)
class Image:
    """An image by URL or as base64 data, whatever shape it came in."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None


def image_of(part: Mapping[str, Any]) -> Image | None:
    """The image in ``part`` (ours, OpenAI's ``image_url``, Anthropic's ``image``), or None."""
    kind = part.get("type")
    if kind == "image_url":
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, Mapping) else spec
        return _from_url(str(url or ""))
    if kind != "image":
        return None
    source = part.get("source")
    if isinstance(source, Mapping):  # Anthropic's own shape
        if source.get("type") == "url":
            return Image(url=str(source.get("url")))
        if source.get("type") == "base64":
            return Image(data=str(source.get("data")), media_type=source.get("media_type"))
        msg = f"an image whose source is {source.get('type')!r} (only url and base64 translate)"
        raise Untranslatable(msg)
    if part.get("data") is not None:
        return Image(data=str(part["data"]), media_type=part.get("media_type") or "image/png")
    if part.get("url"):
        return _from_url(str(part["url"]))
    msg = "an image part needs a url or base64 data"
    raise Untranslatable(msg)


def _from_url(url: str) -> Image:
    if url.startswith("data:") and ";base64," in url:
        head, _, data = url.partition(";base64,")
        return Image(data=data, media_type=head.removeprefix("data:") or "image/png")
    return Image(url=url)


def text_of(content: Any) -> str | None:
    """``content`` as plain text when it is a string or text parts only; else None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") != "text":
            return None
        texts.append(str(part.get("text", "")))
    return "".join(texts)


def tool_calls_of(message: Mapping[str, Any]) -> list[ToolCall]:
    """An assistant message's ``tool_calls``: ToolCall objects, our dicts or OpenAI's."""
    calls: list[ToolCall] = []
    for item in message.get("tool_calls") or ():
        if isinstance(item, ToolCall):
            calls.append(item)
            continue
        if not isinstance(item, Mapping):
            msg = f"a tool call must be a ToolCall or a dict, not {type(item).__name__}"
            raise Untranslatable(msg)
        function = item.get("function")
        if isinstance(function, Mapping):  # OpenAI: arguments as JSON text
            arguments = function.get("arguments") or "{}"
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            calls.append(ToolCall.from_json(str(item.get("id")), str(function.get("name")), text))
            continue
        arguments = item.get("arguments", item.get("input", {}))
        if isinstance(arguments, str):
            calls.append(ToolCall.from_json(str(item.get("id")), str(item.get("name")), arguments))
        else:
            parsed = dict(arguments or {})
            calls.append(
                ToolCall(str(item.get("id")), str(item.get("name")), parsed, json.dumps(parsed))
            )
    return calls


def tool_choice_of(choice: Any) -> tuple[str, str | None] | None:
    """``(mode, tool name)``: mode ``auto``, ``none``, ``required`` or ``tool``."""
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        return str(choice), None
    if choice == "any":
        return "required", None
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        function = choice.get("function")
        if isinstance(function, Mapping) and function.get("name"):
            return "tool", str(function["name"])
        if choice.get("name"):
            return "tool", str(choice["name"])
        if kind in ("auto", "none"):
            return str(kind), None
        if kind == "any":
            return "required", None
    msg = f"tool_choice {choice!r}: use 'auto', 'none', 'required' or {{'name': <tool>}}"
    raise Untranslatable(msg)


OPENAI_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
ANTHROPIC_STOP: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_calls",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
}


def stop_reason(raw: str | None, table: Mapping[str, StopReason]) -> StopReason | None:
    """The neutral stop reason of a wire format's ``finish_reason`` / ``stop_reason``."""
    if raw is None:
        return None
    return table.get(raw, "other")


class ToolCallAssembler:
    """Tool calls streamed in pieces: id and name first, then the arguments' JSON in deltas.

    Keyed by the wire format's index (OpenAI's ``tool_calls[].index``,
    Anthropic's content block index); :meth:`calls` gives them in index order.
    """

    def __init__(self) -> None:
        self._parts: dict[int, list[str]] = {}
        self._heads: dict[int, tuple[str, str]] = {}

    def start(self, index: int, call_id: str | None, name: str | None) -> None:
        """A call's id and name (either may come again, or later, on OpenAI)."""
        old_id, old_name = self._heads.get(index, ("", ""))
        self._heads[index] = (call_id or old_id, name or old_name)
        self._parts.setdefault(index, [])

    def add(self, index: int, arguments: str | None) -> None:
        """A piece of the call's arguments."""
        if arguments:
            self._parts.setdefault(index, []).append(arguments)
            self._heads.setdefault(index, ("", ""))

    def calls(self) -> tuple[ToolCall, ...]:
        """The assembled calls."""
        return tuple(
            ToolCall.from_json(self._heads[i][0], self._heads[i][1], "".join(self._parts[i]))
            for i in sorted(self._heads)
        )


def native_tool(tool: Tool, kind: str) -> dict[str, Any] | None:
    """A tool given in a vendor's own shape, sent as it is to that vendor only (else None)."""
    if tool.native is None:
        return None
    if tool.native_kind != kind:
        msg = f"the {tool.native_kind} tool {tool.name!r} ({tool.native.get('type')})"
        raise Untranslatable(msg)
    return dict(tool.native)
