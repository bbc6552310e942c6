"""JSON logs and request ids, in-process."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from fastapi_sentient._logs import JsonFormatter, current_request_id
from fastapi_sentient._redact import Redactor
from tests.support.asgi import quiet_settings, running
from tests.tracing.apps import build_app


class Capture(logging.Handler):
    """Keeps the formatted lines."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture(JsonFormatter(service="svc"))
    logger = logging.getLogger("tests.tracing.app")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def test_request_id_is_honoured_echoed_and_logged(captured: Capture) -> None:
    """A well-formed X-Request-ID is used, echoed and in the route's log line."""
    app = build_app(quiet_settings(request_ids=True), backends=False)
    async with running(app) as client:
        response = await client.get("/api/v1/items/1", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    (line,) = captured.lines
    assert line["request_id"] == "abc-123"
    assert line["message"] == "served item 1"
    assert line["service"] == "svc"
    assert current_request_id() is None


async def test_missing_or_malformed_request_id_is_replaced() -> None:
    """No header, or one with spaces/quotes, gets a fresh 32-hex id instead."""
    app = build_app(quiet_settings(request_ids=True), backends=False)
    async with running(app) as client:
        fresh = await client.get("/api/v1/items/1")
        forged = await client.get("/api/v1/items/1", headers={"X-Request-ID": 'x" "level":"ERR'})
    for response in (fresh, forged):
        value = response.headers["x-request-id"]
        assert len(value) == 32
        assert all(c in "0123456789abcdef" for c in value)
    assert fresh.headers["x-request-id"] != forged.headers["x-request-id"]


async def test_request_ids_are_off_by_default_with_text_logs() -> None:
    """The default install adds no header (and no work) for request ids."""
    app = build_app(quiet_settings(), backends=False)
    async with running(app) as client:
        response = await client.get("/api/v1/items/1", headers={"X-Request-ID": "abc"})
    assert "x-request-id" not in response.headers


def test_formatter_masks_secrets_and_keeps_extras_and_exceptions() -> None:
    """Registered secrets are masked in messages and tracebacks; extra= fields are kept."""
    redactor = Redactor()
    redactor.add("sk-live-secret-value")
    formatter = JsonFormatter(redact=redactor)
    try:
        raise ValueError("key sk-live-secret-value rejected")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t",
            logging.ERROR,
            __file__,
            1,
            "calling with %s",
            ("sk-live-secret-value",),
            exc_info=sys.exc_info(),
            extra={"provider": "openai"},
        )
    line = json.loads(formatter.format(record))
    assert "sk-live-secret-value" not in json.dumps(line)
    assert line["provider"] == "openai"
    assert line["level"] == "ERROR"
    assert "ValueError" in line["exception"]


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger with one handler of the application's own, restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = logging.StreamHandler(sys.stderr)
    own = logging.Formatter("%(levelname)s %(message)s")
    handler.setFormatter(own)
    root.handlers[:] = [handler]
    yield root
    root.handlers[:], level = saved
    root.setLevel(level)


def test_text_logs_leave_the_applications_logging_configuration_alone(
    root_logging: logging.Logger,
) -> None:
    """With the default text format the root logger keeps its handlers and formatters."""
    from fastapi import FastAPI

    from fastapi_sentient import include_plugin

    before = list(root_logging.handlers)  # ours plus pytest's capture handlers
    formatters = [handler.formatter for handler in before]
    level = root_logging.level
    include_plugin(FastAPI(), quiet_settings(log_format="text"))
    assert root_logging.handlers == before
    assert [handler.formatter for handler in before] == formatters
    assert root_logging.level == level


def test_json_logs_reformat_the_existing_handlers_only_when_asked(
    root_logging: logging.Logger,
) -> None:
    """SENTIENT_LOG_FORMAT=json puts the JSON formatter on the handlers already there."""
    from fastapi import FastAPI

    from fastapi_sentient import include_plugin

    before = list(root_logging.handlers)
    formatters = [handler.formatter for handler in before]
    try:
        include_plugin(FastAPI(), quiet_settings(log_format="json"))
        assert root_logging.handlers == before
        assert all(isinstance(handler.formatter, JsonFormatter) for handler in before)
    finally:  # pytest's own capture handlers are among them
        for handler, formatter in zip(before, formatters, strict=True):
            handler.setFormatter(formatter)
