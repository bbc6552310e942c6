"""The request and result shapes of the LLM layer: messages, tools, requests, results."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

ContentPart = dict[str, Any]
"""One part of a message's content.

Both wire formats understand ``{"type": "text", "text": ...}`` (with an optional
Anthropic ``cache_control``) and ``{"type": "image", "url": ...}`` or
``{"type": "image", "data": <base64>, "media_type": "image/png"}``.  A wire
format's own parts (OpenAI ``image_url``, ``input_audio``, ``file``; Anthropic
``image`` with ``source``, ``document``, ``tool_use``, ``tool_result``, ...) are
translated to the other format where it has an equivalent, and refused before
sending where it has none.
"""


class Message(TypedDict):
    """One chat message, in the OpenAI chat shape both wire formats are built from.

    ``system`` messages become Anthropic's top-level ``system``; an
    ``assistant`` message may carry ``tool_calls`` (:class:`ToolCall` objects or
    their dicts, in our shape or OpenAI's), and a ``tool`` message answers one by
    ``tool_call_id`` (Anthropic gets both as ``tool_use`` / ``tool_result`` blocks).
    """

    role: Literal["system", "user", "assistant", "tool"] | str
    content: str | list[ContentPart] | None
    tool_calls: NotRequired[list[Any]]
    tool_call_id: NotRequired[str]


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call: name, description and a JSON schema of its arguments.

    :meth:`parse` also takes OpenAI's ``{"type": "function", "function": {...}}``
    and Anthropic's ``{"name", "description", "input_schema"}``.  A tool only one
    format has (an Anthropic server tool such as ``web_search_20250305``, an
    OpenAI ``custom`` tool) is kept as ``native`` for that format (``native_kind``)
    and refused by the other.
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    native: Mapping[str, Any] | None = None
    native_kind: str | None = None
    cache_control: Mapping[str, Any] | None = None
    """Anthropic's prompt-cache marker (OpenAI caches on its own and gets none)."""

    @classmethod
    def parse(cls, value: Tool | Mapping[str, Any]) -> Tool:
        """A tool from our shape, OpenAI's or Anthropic's."""
        if isinstance(value, Tool):
            return value
        kind = value.get("type")
        if kind == "function" and isinstance(value.get("function"), Mapping):
            function = value["function"]
            return cls(
                name=str(function["name"]),
                description=str(function.get("description") or ""),
                parameters=function.get("parameters") or {"type": "object", "properties": {}},
            )
        if kind in (None, "custom", "function") and "input_schema" in value:
            return cls(
                name=str(value["name"]),
                description=str(value.get("description") or ""),
                parameters=value["input_schema"],
                cache_control=value.get("cache_control"),
            )
        if kind in (None, "function") and "name" in value:  # ours, or the Responses API's
            return cls(
                name=str(value["name"]),
                description=str(value.get("description") or ""),
                parameters=value.get("parameters") or {"type": "object", "properties": {}},
            )
        if kind == "custom":  # OpenAI's free-form custom tool
            name = value.get("custom", {}).get("name", "")
            return cls(name=str(name), native=value, native_kind="openai")
        # anything else with a type is one of Anthropic's server tools (web search, ...)
        return cls(name=str(value.get("name", kind)), native=value, native_kind="anthropic")


ToolChoice = Literal["auto", "none", "required"] | Mapping[str, Any]
"""``auto``, ``none``, ``required`` (some tool) or ``{"name": tool}`` (that tool)."""


@dataclass(frozen=True, slots=True)
class ResponseSchema:
    """Structured output: the answer must be JSON matching ``schema``.

    With ``strict`` (the default) the schema is sent in the form both vendors'
    constrained decoding requires: every object closed
    (``additionalProperties: false``) and all its properties required, as the
    official SDKs convert Pydantic models.  ``strict=False`` sends the schema
    as given and asks OpenAI for best effort.
    """

    schema: Mapping[str, Any]
    name: str = "response"
    strict: bool = True

    def wire_schema(self) -> dict[str, Any]:
        """The schema as sent."""
        return _closed(self.schema) if self.strict else dict(self.schema)

    @classmethod
    def parse(cls, value: ResponseSchema | Mapping[str, Any] | type) -> ResponseSchema:
        """From a JSON schema, a Pydantic model class or a :class:`ResponseSchema`."""
        if isinstance(value, ResponseSchema):
            return value
        if isinstance(value, type) and hasattr(value, "model_json_schema"):
            return cls(schema=value.model_json_schema(), name=value.__name__)
        if isinstance(value, Mapping):
            return cls(schema=value)
        msg = f"response_schema must be a JSON schema or a Pydantic model, not {value!r}"
        raise TypeError(msg)


_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")


def _closed(schema: Any) -> Any:
    """``schema`` with every object closed and its properties all required."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: _closed(sub) for name, sub in value.items()}
        elif key in ("enum", "const", "default", "examples", "required"):
            out[key] = value
        else:
            out[key] = _closed(value)
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    return out


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for: its id, the tool's name and the parsed arguments.

    ``arguments_json`` is the text the model sent; when it is not a JSON object,
    ``arguments`` is empty and ``parse_error`` says why.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_json: str = "{}"
    parse_error: str | None = None

    @classmethod
    def from_json(cls, id: str, name: str, text: str) -> ToolCall:
        """A call whose arguments arrived as JSON text (OpenAI, Anthropic streams)."""
        try:
            parsed = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            return cls(id, name, {}, text, f"arguments are not JSON: {exc}")
        if not isinstance(parsed, dict):
            return cls(id, name, {}, text, "arguments are not a JSON object")
        return cls(id, name, parsed, text)

    def as_message_part(self) -> dict[str, Any]:
        """This call as an entry of an assistant message's ``tool_calls``."""
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_calls",
    "content_filter",
    "refusal",
    "pause_turn",
    "other",
]
"""Why the model stopped, the same for both wire formats (``finish_reason`` keeps the raw one)."""


@dataclass(slots=True)
class LLMRequest:
    """What to ask: the model, the messages, sampling parameters and caller metadata.

    ``parameters`` takes ``max_tokens`` and ``temperature`` plus anything else the
    wire protocol understands (``top_p``, ``stop``, ...), passed through as is.
    ``metadata`` never leaves the process: it is for the caller's own bookkeeping.
    """

    model: str
    messages: list[Message]
    parameters: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    system: str | list[ContentPart] | None = None
    """A system prompt ahead of ``messages``: text, or text blocks (with ``cache_control``)."""
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    response_schema: ResponseSchema | None = None

    @classmethod
    def build(
        cls,
        model: str | None,
        messages: Sequence[Message] | None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        parameters: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        system: str | Sequence[ContentPart] | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
        response_schema: ResponseSchema | Mapping[str, Any] | type | None = None,
    ) -> LLMRequest:
        """A request from ``generate``'s keyword arguments."""
        params = dict(parameters or {})
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if temperature is not None:
            params["temperature"] = temperature
        return cls(
            model=model or "",
            messages=list(messages or []),
            parameters=params,
            metadata=dict(metadata or {}),
            system=system if system is None or isinstance(system, str) else list(system),
            tools=[Tool.parse(tool) for tool in tools or ()],
            tool_choice=tool_choice,
            response_schema=None
            if response_schema is None
            else ResponseSchema.parse(response_schema),
        )

    @property
    def max_tokens(self) -> int | None:
        """The output token limit, if one was given."""
        value = self.parameters.get("max_tokens")
        return int(value) if value is not None else None


#: The ``type`` label values of ``llm_tokens_consumed_total``.
TOKEN_TYPES: tuple[str, ...] = ("input", "output", "cache_read", "cache_write", "reasoning")


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one call consumed, in one meaning for every wire format.

    ``input_tokens`` counts every input token, including those read from or
    written to the prompt cache; ``output_tokens`` every output token,
    reasoning included.  ``cache_read_tokens``, ``cache_write_tokens`` and
    ``reasoning_tokens`` are parts of those totals, never added to them (the
    meaning of the OpenTelemetry GenAI conventions and of genai-prices;
    :mod:`fastapi_sentient.llm._usage` converts each wire format to it).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output."""
        return self.input_tokens + self.output_tokens

    def by_type(self) -> dict[str, int]:
        """Counts by the ``type`` label of ``llm_tokens_consumed_total``."""
        return {
            "input": self.input_tokens,
            "output": self.output_tokens,
            "cache_read": self.cache_read_tokens,
            "cache_write": self.cache_write_tokens,
            "reasoning": self.reasoning_tokens,
        }


@dataclass(slots=True)
class LLMResult:
    """What a call returned, who served it and what it cost."""

    text: str
    usage: Usage
    cost_usd: float | None
    """USD from the price table; None when the model has no known price."""
    provider: str
    model: str
    response_model: str | None = None
    finish_reason: str | None = None
    attempts: int = 1
    duration: float = 0.0
    raw: Any = field(default=None, repr=False)
    """The provider's decoded answer (a dict), or the SDK's response object."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop_reason: StopReason | None = None

    def json(self) -> Any:
        """The answer parsed as JSON (for calls with a ``response_schema``)."""
        return json.loads(self.text)

    def message(self) -> Message:
        """This answer as the assistant message to append for the next turn of an agent loop."""
        message: Message = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [call.as_message_part() for call in self.tool_calls]
        return message


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider adapter's answer before pricing and bookkeeping."""

    text: str
    usage: Usage
    response_model: str | None = None
    finish_reason: str | None = None
    raw: Any = None
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: StopReason | None = None


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One piece of a streamed answer: text, and usage/finish data when the provider sends it."""

    text: str = ""
    usage: Usage | None = None
    response_model: str | None = None
    finish_reason: str | None = None
    done: bool = False
    tool_calls: tuple[ToolCall, ...] = ()
    """The tool calls, assembled from their deltas; on the final (``done``) event."""
    tool_call_delta: bool = False
    """A piece of a tool call arrived: the first chunk of an answer that calls tools only."""
    stop_reason: StopReason | None = None
    raw: Any = field(default=None, repr=False)
    """The official SDK's own event, for streams run through ``sentient.llm.sdk``."""
