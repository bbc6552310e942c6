"""An unhandled refusal becomes ``503`` with ``Retry-After``, a passed deadline ``504``.

A route that lets a :class:`CircuitOpenError` (or a full bulkhead, or a
dependency's Retry-After) escape tells its caller "try again later" — with the
time the breaker reported, rounded up — instead of a bare 500.  Handlers are
added only for classes the app has no handler for yet, so a user's own always wins.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fastapi_sentient.resilience._errors import (
    BulkheadFullError,
    CircuitOpenError,
    DeadlineExceededError,
    ResilienceError,
    ThrottledError,
)

if TYPE_CHECKING:
    from fastapi_sentient._redact import Redactor

_KINDS: tuple[tuple[type[ResilienceError], str, int], ...] = (
    (CircuitOpenError, "circuit_open", 503),
    (ThrottledError, "throttled", 503),
    (BulkheadFullError, "concurrency_limit", 503),
    (DeadlineExceededError, "deadline_exceeded", 504),
)


def install_error_handlers(app: Any, *, redactor: Redactor) -> None:
    """Answer the resilience errors on ``app`` (unless the app handles them).

    ``app`` is a FastAPI or Starlette app; anything without
    ``add_exception_handler`` is left alone.
    """
    add = getattr(app, "add_exception_handler", None)
    if add is None:
        return
    existing: dict[Any, Any] = getattr(app, "exception_handlers", {})
    redact = redactor

    def handler(kind: str, status: int) -> Any:
        async def answer(request: Request, exc: Exception) -> Response:
            retry_after = getattr(exc, "retry_after", None)
            headers: dict[str, str] = {}
            if status == 503:
                headers["Retry-After"] = str(max(math.ceil(retry_after or 0.0), 1))
            body: dict[str, object] = {"error": kind, "detail": redact(" ".join(str(exc).split()))}
            if retry_after is not None:
                body["retryAfter"] = round(float(retry_after), 3)
            return JSONResponse(body, status_code=status, headers=headers)

        return answer

    for exc_class, kind, status in _KINDS:
        if exc_class not in existing:
            add(exc_class, handler(kind, status))
