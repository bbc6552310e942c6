"""The provider protocol, and the HTTP sending every vendor's wire format shares.

An adapter is stateless apart from its configuration; the pooled client, the
breaker, retries and metrics are applied around it by the gateway, so a new
wire format only has to speak HTTP.  Errors leave an adapter already classified
as :mod:`fastapi_sentient.llm._errors` types, with response bodies passed through
the redactor (a provider may echo the key it was sent).  :class:`WireAdapter`
is the adapter of a :class:`~fastapi_sentient.llm._adapters._format.WireFormat`:
it POSTs the format's body and reads the answer, whole or as server-sent events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx2

from fastapi_sentient.llm._adapters._format import Redact, WireFormat, decode_object
from fastapi_sentient.llm._errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ThrottledError,
)
from fastapi_sentient.llm._outcome import parse_retry_after, parse_should_retry
from fastapi_sentient.llm._types import Completion, LLMRequest, StreamEvent


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


class WireAdapter:
    """The :class:`ProviderAdapter` of one wire format: POST its body, read its answer."""

    def __init__(self, wire: WireFormat) -> None:
        self.wire = wire
        self.kind = wire.kind

    def payload(self, request: LLMRequest, *, stream: bool = False) -> dict[str, Any]:
        """The request body; raises ``Untranslatable`` for what the format cannot take."""
        return self.wire.payload(request, stream=stream)

    async def complete(
        self, client: httpx2.AsyncClient, request: LLMRequest, *, provider: str, redact: Redact
    ) -> Completion:
        """Send ``request`` and return the whole answer."""
        data = await post_json(
            client,
            self.wire.path,
            self.payload(request),
            provider=provider,
            model=request.model,
            redact=redact,
        )
        return self.wire.completion(data)

    async def stream(
        self, client: httpx2.AsyncClient, request: LLMRequest, *, provider: str, redact: Redact
    ) -> AsyncIterator[StreamEvent]:
        """Yield the answer's events as they arrive, the last one with ``done=True``."""
        model = request.model
        reader = self.wire.reader(provider=provider, model=model, redact=redact)
        try:
            async with client.stream(
                "POST", self.wire.path, json=self.payload(request, stream=True)
            ) as response:
                if response.status_code >= 400:
                    body = await response.aread()
                    raise error_from_response(
                        response, body, provider=provider, model=model, redact=redact
                    )
                async for sse in httpx2.EventSource(response):
                    for event in reader.read(sse.event, sse.data):
                        yield event
                        if event.done:
                            return
        except httpx2.HTTPError as exc:
            raise transport_error(exc, provider=provider, model=model, redact=redact) from None
        msg = f"{provider} ended the stream without {self.wire.end_of_stream}"
        raise ProviderConnectionError(msg, provider=provider, model=model)

    async def probe(self, client: httpx2.AsyncClient, *, redact: Redact) -> ProbeResult:
        """``GET models``: free, and a wrong key answers 401."""
        return await get_models(client, redact=redact)
