"""Token counts from either wire format, in one meaning.

The formats disagree on what "input" means.  Anthropic's ``input_tokens``
leaves out the tokens read from and written to the prompt cache
(``cache_read_input_tokens``, ``cache_creation_input_tokens``); OpenAI's
``prompt_tokens`` (and the Responses API's ``input_tokens``) include the cached
ones (``prompt_tokens_details.cached_tokens``), and its reasoning tokens
(``completion_tokens_details.reasoning_tokens``) are part of
``completion_tokens``.  :class:`~fastapi_sentient.llm._types.Usage` takes the
meaning of the OpenTelemetry GenAI conventions and of genai-prices: input counts
every input token, cached or not; output counts every output token, reasoning
included; the cache and reasoning counts are the parts of those totals.

The readers take the decoded JSON (dicts) or the official SDKs' objects alike.
"""

from __future__ import annotations

from typing import Any

from fastapi_sentient.llm._types import Usage


def field(data: Any, name: str) -> Any:
    """``data[name]`` for a dict, ``data.name`` for an SDK object; None when absent."""
    if data is None:
        return None
    if isinstance(data, dict):
        return data.get(name)
    return getattr(data, name, None)


def _int(data: Any, name: str) -> int | None:
    value = field(data, name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_anthropic(usage: Any) -> bool:
    """Whether ``usage`` is Anthropic's (input excluding cache) rather than OpenAI's."""
    # OpenAI chat completions count prompt_tokens; its Responses API has input_tokens_details
    return _int(usage, "prompt_tokens") is None and field(usage, "input_tokens_details") is None


def openai_usage(usage: Any) -> Usage:
    """Chat completions (``prompt_tokens``) or Responses (``input_tokens``) usage."""
    if _int(usage, "prompt_tokens") is not None or _int(usage, "completion_tokens") is not None:
        inputs, outputs = _int(usage, "prompt_tokens"), _int(usage, "completion_tokens")
        in_details = field(usage, "prompt_tokens_details")
        out_details = field(usage, "completion_tokens_details")
    else:
        inputs, outputs = _int(usage, "input_tokens"), _int(usage, "output_tokens")
        in_details = field(usage, "input_tokens_details")
        out_details = field(usage, "output_tokens_details")
    return Usage(
        input_tokens=inputs or 0,
        output_tokens=outputs or 0,
        cache_read_tokens=_int(in_details, "cached_tokens") or 0,
        # cache writes: OpenAI's details field, or a gateway's copy of Anthropic's count
        cache_write_tokens=_int(in_details, "cache_write_tokens")
        or _int(usage, "cache_creation_input_tokens")
        or 0,
        reasoning_tokens=_int(out_details, "reasoning_tokens") or 0,
    )


class AnthropicUsage:
    """Anthropic usage accumulated over a stream's events.

    ``message_start`` reports the input side (and a first output count);
    ``message_delta`` reports the output total so far and may repeat the input
    side.  A later value replaces an earlier one; an absent value keeps it.
    """

    __slots__ = ("cache_read", "cache_write", "output", "uncached")

    def __init__(self) -> None:
        self.uncached = 0
        self.cache_read = 0
        self.cache_write = 0
        self.output = 0

    def merge(self, usage: Any) -> Usage:
        """Take ``usage``'s counts; the total so far."""
        self.uncached = _pick(_int(usage, "input_tokens"), self.uncached)
        self.cache_read = _pick(_int(usage, "cache_read_input_tokens"), self.cache_read)
        self.cache_write = _pick(_int(usage, "cache_creation_input_tokens"), self.cache_write)
        self.output = _pick(_int(usage, "output_tokens"), self.output)
        return self.usage

    @property
    def usage(self) -> Usage:
        """The counts so far, input including the cache."""
        return Usage(
            input_tokens=self.uncached + self.cache_read + self.cache_write,
            output_tokens=self.output,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
        )


def _pick(new: int | None, old: int) -> int:
    return old if new is None else new


def anthropic_usage(usage: Any) -> Usage:
    """Messages usage: ``input_tokens`` plus the cache reads and writes."""
    return AnthropicUsage().merge(usage)


def usage_from(usage: Any) -> Usage:
    """Either format's usage, told apart by its fields."""
    if usage is None:
        return Usage()
    return anthropic_usage(usage) if is_anthropic(usage) else openai_usage(usage)
