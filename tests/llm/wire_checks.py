"""What the fake providers check of a request body before answering, as the real APIs would.

Each check returns the first problem found (the fake answers 400 with it), or
None.  They cover what our translation produces and what the real APIs reject:
shapes of messages, content blocks, tools, tool choice and tool results.
"""

from __future__ import annotations

from typing import Any

ANTHROPIC_BLOCKS = {"text", "image", "document", "tool_use", "tool_result", "thinking",
                    "redacted_thinking", "search_result"}  # fmt: skip
OPENAI_PARTS = {"text", "image_url", "input_audio", "file", "refusal"}


def anthropic_problem(body: dict[str, Any]) -> str | None:
    """Why Anthropic's messages API would refuse ``body``."""
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    system = body.get("system")
    if not (system is None or isinstance(system, str)) and not all(
        isinstance(b, dict) and b.get("type") == "text" for b in system
    ):
        return "system: must be a string or text blocks"
    tool_ids: set[str] = set()
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if messages[0].get("role") != "user":
        return "messages: the first message must use the user role"
    for i, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: must be user or assistant"
        if set(message) - {"role", "content"}:
            return f"messages.{i}: Extra inputs are not permitted: {sorted(set(message) - {'role', 'content'})}"
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f"messages.{i}.content: must be a string or a list of blocks"
        for j, block in enumerate(content):
            problem = _anthropic_block(block, message["role"], tool_ids)
            if problem:
                return f"messages.{i}.content.{j}: {problem}"
    for k, tool in enumerate(body.get("tools") or ()):
        if "function" in tool or tool.get("type") == "function":
            return f"tools.{k}: OpenAI's tool shape"
        if tool.get("type") in (None, "custom") and not isinstance(tool.get("input_schema"), dict):
            return f"tools.{k}.input_schema: Field required"
    choice = body.get("tool_choice")
    if choice is not None and (
        not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none")
    ):
        return "tool_choice: must be {type: auto|any|tool|none}"
    return None


def _anthropic_block(block: Any, role: str, tool_ids: set[str]) -> str | None:
    if not isinstance(block, dict) or block.get("type") not in ANTHROPIC_BLOCKS:
        return f"unknown block type {block.get('type') if isinstance(block, dict) else block!r}"
    kind = block["type"]
    if kind == "text" and not block.get("text"):
        return "text content blocks must be non-empty"
    if kind == "image":
        source = block.get("source") or {}
        if source.get("type") not in ("url", "base64"):
            return "image.source: must be url or base64"
    if kind == "tool_use":
        if role != "assistant" or not isinstance(block.get("input"), dict):
            return "tool_use: only in assistant turns, with an input object"
        tool_ids.add(block.get("id"))
    if kind == "tool_result" and (role != "user" or block.get("tool_use_id") not in tool_ids):
        return "tool_result: must answer an earlier tool_use id in a user turn"
    return None


def openai_problem(body: dict[str, Any]) -> str | None:
    """Why OpenAI's chat completions API would refuse ``body``."""
    call_ids: set[str] = set()
    for i, message in enumerate(body.get("messages") or ()):
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"messages[{i}].role: invalid"
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or part.get("type") not in OPENAI_PARTS:
                    return f"messages[{i}].content[{j}]: invalid part type"
        for call in message.get("tool_calls") or ():
            if call.get("type") != "function" or not isinstance(
                call["function"].get("arguments"), str
            ):
                return f"messages[{i}].tool_calls: invalid"
            call_ids.add(call.get("id"))
        if role == "tool" and message.get("tool_call_id") not in call_ids:
            return f"messages[{i}]: tool message must answer a preceding tool_calls id"
    for k, tool in enumerate(body.get("tools") or ()):
        if tool.get("type") != "function" or "name" not in (tool.get("function") or {}):
            return f"tools[{k}]: must be {{type: function, function: {{name, ...}}}}"
    return None
