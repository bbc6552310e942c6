"""An :class:`LLMRequest` as an Anthropic messages body.

System messages (and ``request.system``) become the top-level ``system``;
OpenAI-shaped assistant ``tool_calls`` become ``tool_use`` blocks and ``tool``
messages ``tool_result`` blocks of a user turn; images (ours or OpenAI's
``image_url``) become ``image`` blocks; tools, tool choice and the response
schema take Anthropic's names.  What Anthropic has no equivalent for (OpenAI
``input_audio`` and ``file`` parts, OpenAI-only tools) raises
:class:`Untranslatable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi_sentient.llm.content import (
    Untranslatable,
    image_of,
    tool_calls_of,
    tool_choice_of,
)
from fastapi_sentient.llm.types import LLMRequest, Tool

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
    if tool.native is not None:
        if tool.native_kind != "anthropic":
            msg = f"the {tool.native_kind} tool {tool.name!r} ({tool.native.get('type')})"
            raise Untranslatable(msg)
        return dict(tool.native)
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
