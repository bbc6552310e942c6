"""``/live``, ``/ready``, ``/health`` and ``/drain`` as bare ASGI endpoints.

They are served by the tracking middleware before the app's own middleware
stack, so authentication, rate limiting or a broken route can never make a
probe lie, and they never await I/O: every answer comes from cached results.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from fastapi_sentient.health._result import HealthStatus

if TYPE_CHECKING:
    from pydantic import SecretStr

    from fastapi_sentient._inflight import InFlight
    from fastapi_sentient._lifecycle import Lifecycle
    from fastapi_sentient._readiness import Readiness
    from fastapi_sentient._settings_groups import IdentitySettings
    from fastapi_sentient.health._registry import HealthRegistry

_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")


async def _respond(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [_JSON, _NO_STORE, (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def expected_bearer(token: SecretStr | None) -> bytes | None:
    """The ``Authorization`` value the health token asks for, or None without a token."""
    return f"Bearer {token.get_secret_value()}".encode() if token else None


def bearer_matches(scope: Scope, expected: bytes | None) -> bool:
    """Whether the request carries exactly ``expected`` as its one ``Authorization`` header."""
    if expected is None:
        return False
    found = [value for key, value in scope["headers"] if key == b"authorization"]
    # constant-time compare; a second Authorization header is refused, not guessed at
    return len(found) == 1 and hmac.compare_digest(found[0], expected)


def _prebuilt(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


_LIVE_OK = _prebuilt({"status": "alive"})
_LIVE_ERROR = _prebuilt({"status": "error"})
_READY_OK = _prebuilt({"status": "ready"})


class LiveEndpoint:
    """200 while the process and its loop run and the lifecycle is not in ``error``."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lifecycle.alive:
            await _respond(send, 200, _LIVE_OK)
        else:
            await _respond(send, 503, _LIVE_ERROR)


class ReadyEndpoint:
    """200 only when started, not draining and every critical check passes.

    A 503 says why in a few bytes — the lifecycle reason and the names of the
    failing critical checks, never their errors or details — so a look at the
    probe's answer tells an operator where to look without exposing anything.
    """

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = self.readiness.unready_reason()
        if reason is None:
            await _respond(send, 200, _READY_OK)
            return
        body: dict[str, Any] = {"status": "not ready", "reason": reason}
        failing = self.readiness.failing_critical()
        if failing:
            body["failing"] = failing
        await _respond(send, 503, _prebuilt(body))


class HealthEndpoint:
    """The aggregate report; per-check details only for authorized callers."""

    def __init__(
        self,
        *,
        health: HealthRegistry,
        lifecycle: Lifecycle,
        inflight: InFlight,
        identity: IdentitySettings,
        node_id: Callable[[], str],
        details: str,
        token: SecretStr | None,
    ) -> None:
        self.health = health
        self.lifecycle = lifecycle
        self.inflight = inflight
        self.identity = identity
        self.node_id = node_id  # known for sure only once startup found the serving port
        self.mode = details
        self.expected = expected_bearer(token)

    def authorized(self, scope: Scope) -> bool:
        """Whether this caller may see per-check details."""
        if self.mode == "always":
            return True
        if self.mode == "never":
            return False
        return bearer_matches(scope, self.expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        health = self.health
        lifecycle = self.lifecycle
        status = health.status() if lifecycle.alive else HealthStatus.UNHEALTHY
        counts = health.counts()
        identity = self.identity
        body: dict[str, Any] = {
            "status": status.value,
            "timestamp": datetime.now(UTC).isoformat(),
            "checks": len(health.checks),
            "healthy": counts["healthy"],
            "degraded": counts["degraded"],
            "unhealthy": counts["unhealthy"],
            "unknown": counts["unknown"],
            "uptime": round(time.monotonic() - lifecycle.started_at, 3),
            "version": identity.version,
            "instanceId": self.node_id(),
        }
        if self.authorized(scope):
            body["environment"] = identity.environment
            body["region"] = identity.region
            body["lifecycle"] = lifecycle.state.value
            body["inFlight"] = self.inflight.count
            body["details"] = {name: state.describe() for name, state in health.checks.items()}
        code = 200 if status in (HealthStatus.HEALTHY, HealthStatus.DEGRADED) else 503
        await _respond(send, code, json.dumps(body, default=str).encode())


_UNAUTHORIZED = _prebuilt({"error": "unauthorized"})
_GET_ONLY = _prebuilt({"error": "method not allowed; drain with GET"})


class DrainEndpoint:
    """Opt-in ``GET /drain`` for a Kubernetes ``preStop: httpGet``: drain, then answer.

    Only ``GET`` drains (what ``preStop: httpGet`` sends).  On the app port the
    health token is required (``httpHeaders`` in the hook); on the management
    port, which the Service does not expose, the port itself is the guard.
    """

    def __init__(
        self,
        *,
        drain: Callable[[], Awaitable[float]],
        inflight: InFlight,
        undo_after: float,
        token: SecretStr | None,
        require_token: bool,
    ) -> None:
        self.drain = drain  # starts draining, returns once the drain delay has passed
        self.inflight = inflight
        self.undo_after = undo_after
        self.expected = expected_bearer(token) if require_token else None
        self.require_token = require_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            await _respond(send, 405, _GET_ONLY, [(b"allow", b"GET")])
            return
        if self.require_token and not bearer_matches(scope, self.expected):
            await _respond(send, 401, _UNAUTHORIZED, [(b"www-authenticate", b"Bearer")])
            return
        waited = await self.drain()
        body = {
            "status": "draining",
            "waited": round(waited, 3),
            "inFlight": self.inflight.count,
            "undoAfter": self.undo_after,
        }
        await _respond(send, 200, _prebuilt(body))
