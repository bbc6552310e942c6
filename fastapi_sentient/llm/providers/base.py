"""The provider protocol: how one wire format turns an LLMRequest into HTTP and back.

An adapter is stateless apart from its configuration; the pooled client, the
breaker, retries and metrics are applied around it by the registry, so a new
wire format only has to speak HTTP.  Errors leave an adapter already classified
as :mod:`fastapi_sentient.llm.errors` types, with response bodies passed through
the redactor (a provider may echo the key it was sent).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx2

from fastapi_sentient.llm.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ThrottledError,
)
from fastapi_sentient.llm.outcome import parse_retry_after, parse_should_retry
from fastapi_sentient.llm.types import Completion, LLMRequest, StreamEvent

Redact = Callable[[str], str]


@dataclass(slots=True)
class ProbeResult:
    """What an unbilled health probe found."""

    status_code: int
    models: list[str] = field(default_factory=list)
    error: str | None = None


@runtime_checkable
class ProviderAdapter(Protocol):
    """One wire protocol (OpenAI chat completions, Anthropic messages, ...)."""

    kind: str
    """The OpenTelemetry ``gen_ai.provider.name`` (``openai``, ``anthropic``)."""

    async def complete(
        self, client: httpx2.AsyncClient, request: LLMRequest, *, provider: str, redact: Redact
    ) -> Completion:
        """Send ``request`` and return the whole answer."""
        ...

    def stream(
        self, client: httpx2.AsyncClient, request: LLMRequest, *, provider: str, redact: Redact
    ) -> AsyncIterator[StreamEvent]:
        """Send ``request`` and yield the answer as it arrives (an async generator)."""
        ...

    async def probe(self, client: httpx2.AsyncClient, *, redact: Redact) -> ProbeResult:
        """An unbilled request proving the provider is reachable and the key is valid."""
        ...


def error_from_response(
    response: httpx2.Response, body: bytes, *, provider: str, model: str | None, redact: Redact
) -> ProviderError | ThrottledError:
    """The error for a non-2xx answer, with a short, redacted excerpt of its body."""
    excerpt = redact(body[:300].decode("utf-8", "replace").strip())
    retry_after = parse_retry_after(response.headers)
    message = f"{provider} answered {response.status_code}: {excerpt or response.reason_phrase}"
    if response.status_code == 429:
        return ThrottledError(message, provider=provider, model=model, retry_after=retry_after)
    return ProviderError(
        message,
        provider=provider,
        model=model,
        status=response.status_code,
        retry_after=retry_after,
        should_retry=parse_should_retry(response.headers),
    )


def transport_error(
    exc: httpx2.HTTPError, *, provider: str, model: str | None, redact: Redact
) -> Exception:
    """Our error for an httpx2 failure; a pool timeout stays an httpx2.PoolTimeout (local)."""
    if isinstance(exc, httpx2.PoolTimeout):
        return exc
    text = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderTimeoutError(
            f"{provider} timed out ({text})", provider=provider, model=model
        )
    return ProviderConnectionError(
        f"{provider} could not be reached ({text})", provider=provider, model=model
    )


async def post_json(
    client: httpx2.AsyncClient,
    path: str,
    payload: dict[str, Any],
    *,
    provider: str,
    model: str,
    redact: Redact,
) -> dict[str, Any]:
    """POST ``payload`` and return the decoded JSON object, raising classified errors."""
    try:
        response = await client.post(path, json=payload)
    except httpx2.HTTPError as exc:
        raise transport_error(exc, provider=provider, model=model, redact=redact) from None
    if response.status_code >= 400:
        raise error_from_response(
            response, response.content, provider=provider, model=model, redact=redact
        )
    return decode_object(response.content, provider=provider, model=model, redact=redact)


def decode_object(raw: bytes | str, *, provider: str, model: str, redact: Redact) -> dict[str, Any]:
    """Parse a JSON object; a 200 carrying ``{"error": ...}`` is a provider failure."""
    try:
        data = json.loads(raw)
    except ValueError:
        msg = f"{provider} sent a body that is not JSON"
        raise ProviderError(msg, provider=provider, model=model, status=502) from None
    if not isinstance(data, dict):
        msg = f"{provider} sent JSON that is not an object"
        raise ProviderError(msg, provider=provider, model=model, status=502)
    error = data.get("error")
    if error and data.get("type") != "message" and "choices" not in data:
        detail = error.get("message", error) if isinstance(error, dict) else error
        kind = error.get("type", "") if isinstance(error, dict) else ""
        status = 529 if kind == "overloaded_error" else 502
        msg = redact(f"{provider} returned an error body: {str(detail)[:300]}")
        raise ProviderError(msg, provider=provider, model=model, status=status)
    return data


async def get_models(client: httpx2.AsyncClient, *, redact: Redact) -> ProbeResult:
    """``GET models``: the free probe both OpenAI-compatible servers and Anthropic offer."""
    response = await client.get("models")
    if response.status_code >= 400:
        excerpt = redact(response.content[:200].decode("utf-8", "replace").strip())
        return ProbeResult(response.status_code, error=f"{response.status_code}: {excerpt}")
    try:
        data = response.json()
    except ValueError:
        return ProbeResult(response.status_code, error="models listing is not JSON")
    items = data.get("data", []) if isinstance(data, dict) else []
    models = [str(item.get("id")) for item in items if isinstance(item, dict) and item.get("id")]
    return ProbeResult(response.status_code, models=models[:50])
