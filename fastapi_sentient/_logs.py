"""Structured JSON logs that carry ``trace_id``, ``span_id`` and ``request_id``.

``SENTIENT_LOG_FORMAT=json`` puts :class:`JsonFormatter` on the root logger and
on uvicorn's loggers, so the access log line of a request and everything the
route logged share its ids: from a log line to the trace in one click, and from
a support ticket's ``X-Request-ID`` to every line of that request.

The request id comes from the incoming header when it is well formed (a client
or the ingress already chose one) and is made up otherwise; either way it is
echoed in the response.  Secrets registered with the redactor never reach a
log line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_sentient._redact import mask_query, redact_all

try:
    from opentelemetry import trace as _trace
except ImportError:  # the tracing extra is not installed: no trace ids to log
    _trace = None  # type: ignore[assignment]

request_id_var: ContextVar[str | None] = ContextVar("sentient_request_id", default=None)

#: What an incoming request id may look like; anything else is replaced, so a
#: client cannot write arbitrary text (or fake JSON) into our logs.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def current_request_id() -> str | None:
    """The id of the request being served, if request ids are on."""
    return request_id_var.get()


def _trace_ids() -> tuple[str, str] | None:
    if _trace is None:
        return None
    context = _trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids and ``extra`` fields."""

    def __init__(
        self, *, service: str | None = None, redact: Callable[[str], str] | None = None
    ) -> None:
        super().__init__()
        self.service = service
        self.redact = redact or redact_all

    def _masked(self, value: Any) -> Any:
        """An ``extra=`` value with every string inside it masked."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {str(key): self._masked(item) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._masked(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redact(str(value))

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        if self.service:
            payload["service"] = self.service
        ids = _trace_ids()
        if ids is not None:
            payload["trace_id"], payload["span_id"] = ids
        request_id = request_id_var.get()
        if request_id is not None:
            payload["request_id"] = request_id
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            payload.update(
                {key: self._masked(value) for key, value in _access_fields(record.args).items()}
            )
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in payload:
                payload[key] = self._masked(value)
        if record.exc_info:
            payload["exception"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            payload["exception"] = self.redact(record.exc_text)
        return json.dumps(payload, default=str, ensure_ascii=False)


def _access_fields(args: tuple[Any, ...]) -> dict[str, Any]:
    # uvicorn's access record: (client, method, path with query, http version, status)
    if len(args) != 5:
        return {}
    client, method, target, version, status = args
    path, _, query = mask_query(str(target)).partition("?")
    fields = {
        "client.address": client,
        "http.request.method": method,
        "url.path": path,
        "network.protocol.version": version,
        "http.response.status_code": status,
    }
    if query:
        fields["url.query"] = query
    return fields


def configure_json_logging(
    *, service: str | None = None, redact: Callable[[str], str] | None = None
) -> JsonFormatter:
    """Put a :class:`JsonFormatter` on the root logger's and uvicorn's handlers."""
    formatter = JsonFormatter(service=service, redact=redact)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
        if root.level > logging.INFO:
            root.setLevel(logging.INFO)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    for name in _UVICORN_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
    return formatter


class RequestIdMiddleware:
    """Takes the request id from the header (or makes one), echoes it, exposes it to logs.

    The id is also at ``request.state.request_id`` for routes that pass it on
    (to a queue, a downstream call).
    """

    def __init__(self, app: ASGIApp, header: str = "X-Request-ID") -> None:
        self.app = app
        self.header = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = self.header
        request_id: str | None = None
        for key, value in scope["headers"]:
            if key == header:
                candidate = value.decode("latin-1")
                if _VALID_ID.match(candidate):
                    request_id = candidate
                break
        if request_id is None:
            request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        echoed = (header, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
