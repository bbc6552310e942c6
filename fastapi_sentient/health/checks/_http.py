"""A check that GETs an HTTP endpoint and judges the status code (and, optionally, the body).

The generic building block of the catalogue: Vault, MinIO, RabbitMQ and NATS
checks are this check with the documented endpoint and an interpreter for the
documented answers.  It uses ``httpx2`` (the ``llm`` extra); a shared client may
be passed in, otherwise each run opens and closes its own, which is cheap at a
health check's pace and never leaks a connection pool across event loops.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from fastapi_sentient._redact import mask_url
from fastapi_sentient.exceptions import MissingDependencyError
from fastapi_sentient.health._result import CheckResult, HealthStatus

if TYPE_CHECKING:
    import httpx2

Interpreter = Callable[["httpx2.Response"], CheckResult]

SUCCESS = range(200, 300)


def _httpx2() -> object:
    try:
        import httpx2
    except ImportError as exc:  # pragma: no cover - the llm extra is a dev dependency
        package, extra = "httpx2", "llm"
        raise MissingDependencyError(package, extra) from exc
    return httpx2


class HttpCheck:
    """Healthy when ``method url`` answers a code in ``expect``; degraded for ``degraded`` codes.

    Args:
        url: the endpoint; credentials in it are masked in every report.
        expect: status codes meaning healthy (default: any 2xx).
        degraded: status codes meaning "working, but not fully".
        method: ``GET`` or ``HEAD``.
        headers: extra request headers (e.g. an API token); never reported.
        auth: ``(username, password)`` for HTTP basic authentication.
        timeout: time limit of the request, seconds (keep it under the check's).
        client: a shared ``httpx2.AsyncClient``; it is not closed by the check.
        interpret: turns the response into the result instead of the code sets.
    """

    def __init__(
        self,
        url: str,
        *,
        expect: Collection[int] = SUCCESS,
        degraded: Collection[int] = (),
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float = 5.0,
        client: httpx2.AsyncClient | None = None,
        interpret: Interpreter | None = None,
    ) -> None:
        _httpx2()
        self.url = url
        self.expect = expect
        self.degraded = degraded
        self.method = method.upper()
        self.headers = dict(headers or {})
        self.auth = auth
        self.timeout = timeout
        self.client = client
        self.interpret = interpret

    async def __call__(self) -> CheckResult:
        response = await self.fetch()
        result = self.interpret(response) if self.interpret else self.judge(response)
        result.details.setdefault("url", mask_url(self.url))
        result.details.setdefault("statusCode", response.status_code)
        return result

    async def fetch(self) -> httpx2.Response:
        """One request; transport errors propagate and make the check unhealthy."""
        import httpx2

        if self.client is not None:
            return await self._send(self.client)
        async with httpx2.AsyncClient(timeout=self.timeout) as client:
            return await self._send(client)

    async def _send(self, client: httpx2.AsyncClient) -> httpx2.Response:
        return await client.request(
            self.method, self.url, headers=self.headers, auth=self.auth, timeout=self.timeout
        )

    def judge(self, response: httpx2.Response) -> CheckResult:
        """The default interpretation: the status code against ``expect`` and ``degraded``."""
        code = response.status_code
        if code in self.expect:
            return CheckResult()
        if code in self.degraded:
            return CheckResult(status=HealthStatus.DEGRADED, error=f"HTTP {code}")
        return CheckResult(
            status=HealthStatus.UNHEALTHY, error=f"HTTP {code} from {mask_url(self.url)}"
        )
