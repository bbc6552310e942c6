"""Named HTTP clients (``SENTIENT_HTTP_CLIENTS``): pooled ``httpx2`` clients under a policy.

Each entry becomes an HTTP pool — explicit limits and timeouts, ``http_pool_*``
metrics, a health check — whose client sends every request through
:class:`GuardedTransport`, so a route gets the policy's breaker, retries, budget,
deadline and bulkhead just by using the client it is injected with::

    SearchApi = Annotated[httpx2.AsyncClient, http_client("search")]

Secrets never sit in the JSON: ``secret_headers`` names the environment variable
holding each header's value, read at startup and masked in every report.  This
module imports ``httpx2`` and is loaded only when clients are configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx2

from fastapi_sentient.exceptions import ConfigurationError
from fastapi_sentient.pools._http import UNGUARDED, HttpPool
from fastapi_sentient.resilience._outcome import Classification, classify_response
from fastapi_sentient.resilience._policy import Policy

if TYPE_CHECKING:
    from fastapi_sentient._redact import Redactor
    from fastapi_sentient.pools._registry import PoolRegistry
    from fastapi_sentient.resilience._registry import ResilienceRegistry
    from fastapi_sentient.settings import HttpClientSettings

VARIABLE = "SENTIENT_HTTP_CLIENTS"


def judge(response: httpx2.Response) -> tuple[Classification, int | None]:
    """A response's verdict: 5xx fails, 429 throttles (with its Retry-After), 4xx is ignored."""
    return classify_response(response.status_code, response.headers), response.status_code


class GuardedTransport(httpx2.AsyncBaseTransport):
    """Sends each request through ``policy``; a failed answer is retried, the last one returned.

    An open breaker, a full bulkhead or a passed deadline raise the resilience
    errors; an error status that is not retried (or no longer) comes back as the
    response it is, as from any ``httpx2`` client.  A request whose body is a
    stream cannot be sent twice, so it gets one attempt.  The bulkhead slot is
    held until the response headers arrive.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, policy: Policy) -> None:
        self.inner = inner
        self.policy = policy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """One call under the policy (or straight through for an unguarded probe)."""
        if request.extensions.get(UNGUARDED):
            return await self.inner.handle_async_request(request)

        async def send() -> httpx2.Response:
            response = await self.inner.handle_async_request(request)
            if response.status_code >= 500 or response.status_code == 429:
                # read the error body now: the connection is free before a retry,
                # and the caller still gets the body of the answer it receives
                await response.aread()
            return response

        replayable = isinstance(request.stream, httpx2.ByteStream)
        return await self.policy.call(send, judge=judge, retry=replayable)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


class HttpClientPool(HttpPool):
    """A named client's pool: its health probe is optional."""

    variable = VARIABLE

    async def ping(self) -> None:
        """GET ``health_path`` past the policy when one is set; else nothing to ask."""
        if self.health_path:
            await super().ping()


def secret_headers(name: str, entry: HttpClientSettings) -> dict[str, str]:
    """The ``secret_headers`` values, read from the environment.

    Raises:
        ConfigurationError: a named variable is not set (the value is never shown).
    """
    values: dict[str, str] = {}
    for header, variable in entry.secret_headers.items():
        value = os.environ.get(variable)
        if not value:
            msg = (
                f"{VARIABLE} ({name}.secret_headers.{header}): environment variable "
                f"{variable} is not set"
            )
            raise ConfigurationError(msg)
        values[header] = value
    return values


def client_policy(
    name: str, entry: HttpClientSettings, *, resilience: ResilienceRegistry
) -> Policy:
    """The policy of client ``name``: a named one, its own inline one, or ``name``'s."""
    registry = resilience
    policy = entry.policy
    if isinstance(policy, str):
        if not registry.configured(policy):
            msg = (
                f"{VARIABLE} ({name}.policy): no policy named {policy!r} in "
                "SENTIENT_RESILIENCE_POLICIES"
            )
            raise ConfigurationError(msg)
        return registry.policy(policy)
    if policy is None:
        return registry.policy(name)
    return registry.policy(name, **policy.model_dump(exclude_unset=True))


def register_http_clients(
    clients: Mapping[str, HttpClientSettings],
    *,
    registry: PoolRegistry,
    resilience: ResilienceRegistry,
    redactor: Redactor,
) -> None:
    """One guarded pool per entry of ``SENTIENT_HTTP_CLIENTS``, under ``resilience``'s policies."""
    for name, entry in clients.items():
        if name in registry:
            msg = f"{VARIABLE}: {name!r} is already the name of a pool (an LLM provider?)"
            raise ConfigurationError(msg)
        secrets = secret_headers(name, entry)
        for value in secrets.values():
            redactor.add(value)
        policy = client_policy(name, entry, resilience=resilience)

        def wrap(
            inner: httpx2.AsyncBaseTransport, policy: Policy = policy
        ) -> httpx2.AsyncBaseTransport:
            return GuardedTransport(inner, policy)

        registry.register(
            HttpClientPool(
                name,
                entry.base_url,
                headers={**entry.headers, **secrets},
                max_connections=entry.max_connections,
                max_keepalive_connections=entry.max_keepalive_connections,
                keepalive_expiry=entry.keepalive_expiry,
                timeout=entry.timeout,
                connect_timeout=entry.connect_timeout,
                pool_timeout=entry.pool_timeout,
                health_path=entry.health_path or "",
                probe_ttl=0.0,
                critical=entry.critical,
                wrap_transport=wrap,
            )
        )
