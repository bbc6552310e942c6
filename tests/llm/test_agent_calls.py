"""Agent calls: tools, tool calls, content parts, system blocks and structured output, both formats."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from pydantic import BaseModel

from fastapi_sentient import Sentient
from fastapi_sentient.llm import ResponseSchema, Tool, UnsupportedRequestError
from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running, sample

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CLOCK = {  # our flat shape
    "name": "get_time",
    "description": "The time in a time zone.",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
}
CALLS = [
    ("call_1", "get_weather", {"city": "Paris"}),
    ("call_2", "get_time", {"tz": "Europe/Paris"}),
]
ASK = [{"role": "user", "content": "Weather and time in Paris?"}]


def fake_of(kind: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider) -> FakeProvider:
    return openai_fake if kind == "openai" else anthropic_fake


def entries_of(kind: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider) -> Any:
    return providers(openai_fake) if kind == "openai" else providers(anthropic=anthropic_fake)


async def ask(sentient: Sentient, kind: str, streamed: bool, **call: Any) -> Any:
    model = "gpt-test" if kind == "openai" else "claude-test"
    if not streamed:
        return await sentient.llm.generate(kind, model=model, **call)
    stream = sentient.llm.stream(kind, model=model, **call)
    async with stream:
        text = "".join([chunk async for chunk in stream])
    assert stream.result is not None
    assert stream.result.text == text
    return stream.result


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_two_tools_give_parsed_tool_calls(
    kind: str, streamed: bool, openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """Two tools offered, two calls answered: ids, names and parsed arguments, stop_reason tool_calls."""
    fake = fake_of(kind, openai_fake, anthropic_fake)
    fake.tool_calls = list(CALLS)
    app, sentient = llm_app(entries_of(kind, openai_fake, anthropic_fake))
    async with running(app):
        result = await ask(
            sentient, kind, streamed, messages=ASK, tools=[WEATHER, CLOCK], tool_choice="required"
        )
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == CALLS
    assert all(call.parse_error is None for call in result.tool_calls)
    assert result.stop_reason == "tool_calls"
    assert result.finish_reason == ("tool_calls" if kind == "openai" else "tool_use")
    assert fake.problems == []
    body = fake.bodies[-1]
    if kind == "openai":
        assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]
        assert body["tools"][1] == {"type": "function", "function": CLOCK}
        assert body["tool_choice"] == "required"
    else:
        assert body["tools"][0] == {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
        }
        assert body["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_agent_loop_sends_tool_calls_and_results_back(
    kind: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """result.message() and tool messages make a second turn each format accepts."""
    fake = fake_of(kind, openai_fake, anthropic_fake)
    fake.tool_calls = list(CALLS)
    app, sentient = llm_app(entries_of(kind, openai_fake, anthropic_fake))
    async with running(app):
        first = await ask(sentient, kind, False, messages=ASK, tools=[WEATHER, CLOCK])
        fake.tool_calls = []
        history = [
            *ASK,
            first.message(),
            *({"role": "tool", "tool_call_id": c.id, "content": "sunny"} for c in first.tool_calls),
        ]
        second = await ask(sentient, kind, False, messages=history, tools=[WEATHER, CLOCK])
    assert second.stop_reason == "end_turn"
    assert second.tool_calls == []
    assert fake.problems == []
    sent = fake.bodies[-1]["messages"]
    if kind == "anthropic":
        assert [b["type"] for b in sent[1]["content"]] == ["text", "tool_use", "tool_use"]
        assert sent[1]["content"][1]["input"] == {"city": "Paris"}
        assert sent[2] == {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "sunny"},
            ],
        }
    else:
        assert sent[1]["tool_calls"][0]["function"] == {
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        }
        assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_fallback_from_openai_to_anthropic_sends_a_valid_anthropic_request(
    streamed: bool, openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """The OpenAI-format target fails; the Anthropic one gets the same tools, parts and history."""
    openai_fake.status = 503
    anthropic_fake.tool_calls = [CALLS[0]]
    app, sentient = llm_app(
        providers(openai_fake, anthropic_fake),
        llm_routes={"agent": ["openai/gpt-test", "anthropic/claude-test"]},
    )
    messages = [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture, and the weather there?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image", "url": "https://example.com/paris.jpg"},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_0", "content": "12:00"},
    ]  # fmt: skip
    system = [
        {"type": "text", "text": "You are a travel agent.", "cache_control": {"type": "ephemeral"}}
    ]
    call: dict[str, Any] = {
        "messages": messages, "system": system, "tools": [WEATHER, CLOCK],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parameters": {"stop": ["END"]},
    }  # fmt: skip
    async with running(app):
        if streamed:
            stream = sentient.llm.stream("agent", **call)
            [chunk async for chunk in stream]
            result = stream.result
        else:
            result = await sentient.llm.generate("agent", **call)
    assert result is not None
    assert result.provider == "anthropic"
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [CALLS[0]]
    assert openai_fake.problems == []  # the OpenAI request was valid too; it failed with 503
    assert anthropic_fake.problems == []
    body = anthropic_fake.bodies[-1]
    assert [t["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    assert body["tools"][1]["input_schema"] == CLOCK["parameters"]
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert body["system"] == system
    assert body["stop_sequences"] == ["END"]
    assert "stop" not in body
    assert body["max_tokens"] == 4096
    user, assistant, results = body["messages"]
    assert user["content"][1] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }  # fmt: skip
    assert user["content"][2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/paris.jpg"},
    }
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_0", "name": "get_time", "input": {"tz": "UTC"}}
    ]
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "call_0", "content": "12:00"}
    ]
    openai_body = openai_fake.bodies[-1]
    assert openai_body["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "You are a travel agent."}],
    }
    assert openai_body["messages"][1]["content"][2] == {
        "type": "image_url", "image_url": {"url": "https://example.com/paris.jpg"},
    }  # fmt: skip


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(
    ("part", "tool", "what"),
    [
        (
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            None,
            "'input_audio' part",
        ),
        (
            None,
            {"type": "web_search_20250305", "name": "web_search"},
            "anthropic tool 'web_search'",
        ),
    ],
    ids=["audio-part", "server-tool"],
)
async def test_untranslatable_request_fails_before_anything_is_sent(
    streamed: bool,
    part: dict[str, Any] | None,
    tool: dict[str, Any] | None,
    what: str,
    openai_fake: FakeProvider,
    anthropic_fake: FakeProvider,
) -> None:
    """A route crossing formats with a part or tool one side cannot take: clear error, no request."""
    app, sentient = llm_app(
        providers(openai_fake, anthropic_fake),
        llm_routes={"agent": ["openai/gpt-test", "anthropic/claude-test"]},
    )
    content: list[dict[str, Any]] = [{"type": "text", "text": "listen"}, *([part] if part else [])]
    call: dict[str, Any] = {
        "messages": [{"role": "user", "content": content}],
        "tools": [tool] if tool else None,
    }
    async with running(app):
        caught = await refused(sentient, streamed, call)
    assert what in str(caught)
    assert "nothing was sent" in str(caught)
    assert openai_fake.posts == 0
    assert anthropic_fake.posts == 0


async def refused(sentient: Sentient, streamed: bool, call: dict[str, Any]) -> Exception:
    try:
        if streamed:
            sentient.llm.stream("agent", **call)  # refused at the call, before any iteration
        else:
            await sentient.llm.generate("agent", **call)
    except UnsupportedRequestError as exc:
        return exc
    raise AssertionError("the request was not refused")


class City(BaseModel):
    name: str
    population: int


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_response_schema_asks_for_structured_output(
    kind: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """A Pydantic model as response_schema: each format's structured-output field; result.json()."""
    fake = fake_of(kind, openai_fake, anthropic_fake)
    fake.chunks = ['{"name": "Paris", ', '"population": 2100000}']
    app, sentient = llm_app(entries_of(kind, openai_fake, anthropic_fake))
    async with running(app):
        result = await ask(sentient, kind, False, messages=ASK, response_schema=City)
    assert City.model_validate(result.json()) == City(name="Paris", population=2100000)
    body = fake.bodies[-1]
    closed = {**City.model_json_schema(), "additionalProperties": False}
    assert closed["required"] == ["name", "population"]
    if kind == "openai":
        assert body["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "City", "schema": closed, "strict": True},
        }
    else:
        assert body["output_config"] == {"format": {"type": "json_schema", "schema": closed}}


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    """Nested models and $defs are closed; optional fields become required; strict=False sends as is."""

    class Stop(BaseModel):
        city: str
        nights: int = 1

    class Trip(BaseModel):
        stops: list[Stop]
        note: str | None = None

    schema = ResponseSchema.parse(Trip).wire_schema()
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["stops", "note"]
    assert schema["$defs"]["Stop"]["additionalProperties"] is False
    assert schema["$defs"]["Stop"]["required"] == ["city", "nights"]
    loose = ResponseSchema(Trip.model_json_schema(), strict=False).wire_schema()
    assert loose == Trip.model_json_schema()


def test_tool_shapes_are_one_tool() -> None:
    """OpenAI chat, OpenAI Responses, Anthropic and our flat shape parse to the same Tool."""
    parameters = {"type": "object", "properties": {"q": {"type": "string"}}}
    shapes = [
        {
            "type": "function",
            "function": {"name": "f", "description": "d", "parameters": parameters},
        },
        {"type": "function", "name": "f", "description": "d", "parameters": parameters},
        {"name": "f", "description": "d", "input_schema": parameters},
        {"name": "f", "description": "d", "parameters": parameters},
    ]
    assert [Tool.parse(shape) for shape in shapes] == [Tool("f", "d", parameters)] * 4


async def test_anthropic_max_tokens_comes_from_the_provider_setting(
    anthropic_fake: FakeProvider,
) -> None:
    """A provider's max_tokens is sent when the call gives none; the call's own wins."""
    app, sentient = llm_app(providers(anthropic=anthropic_fake, max_tokens=321))
    async with running(app):
        await sentient.llm.generate("anthropic", model="claude-test", messages=ASK)
        await sentient.llm.generate("anthropic", model="claude-test", messages=ASK, max_tokens=7)
    assert [b["max_tokens"] for b in anthropic_fake.bodies] == [321, 7]
    assert anthropic_fake.problems == []


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_stream_of_tool_calls_only_is_timed_to_its_first_chunk(
    kind: str, openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """No text at all, only tool calls: the calls are assembled and the first chunk is timed."""
    fake = fake_of(kind, openai_fake, anthropic_fake)
    fake.chunks = []
    fake.tool_calls = list(CALLS)
    app, sentient = llm_app(entries_of(kind, openai_fake, anthropic_fake))
    async with running(app):
        result = await ask(sentient, kind, True, messages=ASK, tools=[WEATHER, CLOCK])
        text = generate_latest(sentient.metrics.registry).decode()
    assert result.text == ""
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == CALLS
    assert sample(text, "llm_time_to_first_token_seconds_count", provider=kind) == 1
    ttfc = "gen_ai_client_operation_time_to_first_chunk_seconds_count"
    assert sample(text, ttfc, gen_ai_provider_name=kind) == 1


async def test_fallback_from_anthropic_to_openai_translates_anthropic_blocks(
    openai_fake: FakeProvider, anthropic_fake: FakeProvider
) -> None:
    """History written in Anthropic's blocks reaches an OpenAI-format fallback as tool calls."""
    anthropic_fake.status = 503
    app, sentient = llm_app(
        providers(openai_fake, anthropic_fake),
        llm_routes={"agent": ["anthropic/claude-test", "openai/gpt-test"]},
    )
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
            {"type": "text", "text": "And tomorrow?"},
        ]},
    ]  # fmt: skip
    async with running(app):
        result = await sentient.llm.generate(
            "agent",
            messages=messages,
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        )
    assert result.provider == "openai"
    assert anthropic_fake.problems == []
    assert openai_fake.problems == []
    sent = openai_fake.bodies[-1]["messages"]
    assert sent[1]["content"] == "Checking."
    assert sent[1]["tool_calls"] == [
        {"id": "toolu_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    ]  # fmt: skip
    assert sent[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
    assert sent[3] == {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]}
    assert openai_fake.bodies[-1]["tools"][0]["function"]["parameters"] == {"type": "object"}


@pytest.mark.parametrize(
    ("provider_name", "field"),
    [(None, "max_completion_tokens"), ("vllm", "max_tokens")],
    ids=["openai", "vllm"],
)
async def test_openai_itself_gets_max_completion_tokens(
    provider_name: str | None, field: str, openai_fake: FakeProvider
) -> None:
    """OpenAI's reasoning models refuse max_tokens; other servers of the format keep it."""
    extra = {"provider_name": provider_name} if provider_name else {}
    app, sentient = llm_app(providers(openai_fake, **extra))
    async with running(app):
        await sentient.llm.generate("openai", model="gpt-test", messages=ASK, max_tokens=64)
    body = openai_fake.bodies[-1]
    assert body[field] == 64
    assert {"max_tokens", "max_completion_tokens"} & set(body) == {field}
