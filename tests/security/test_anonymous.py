"""Anonymous callers learn nothing internal; logs mask what the formatters used to miss."""

from __future__ import annotations

import io
import json
import logging

import httpx2
import pytest

from fastapi_sentient._logs import JsonFormatter
from fastapi_sentient._redact import Redactor, install_log_redaction
from tests.security.reflecting_provider import reflecting_provider
from tests.support.asgi import plugged_app, running
from tests.support.procs import AppProcess

KEY = "plain-provider-key-5b1e9d0c"
HEADER = "org-header-secret-2c7f44aa"


@pytest.mark.integration
def test_reflected_provider_headers_never_reach_the_chat_error_event() -> None:
    """A provider quoting our headers back (key and an extra header): the anonymous /chat
    error event, and the log, carry neither."""
    with reflecting_provider() as base_url:
        providers = {
            "gateway": {
                "kind": "openai",
                "base_url": base_url,
                "api_key": KEY,
                "headers": {"X-Org-Token": HEADER},
                "models": ["m"],
            }
        }
        env = {"SENTIENT_LLM_PROVIDERS": json.dumps(providers), "SENTIENT_LLM_RETRY_ATTEMPTS": "1"}
        proc = AppProcess("example_app.main:app", env).start()
        try:
            response = httpx2.post(
                proc.url + "/chat",
                json={"message": "hi", "target": "gateway", "model": "m"},
                timeout=30,
            )
        finally:
            proc.stop()
    assert response.status_code == 200
    assert "event: error" in response.text
    for secret in (KEY, HEADER, "X-Org-Token", "127.0.0.1"):
        assert secret not in response.text, response.text
    output = proc.output()
    assert "chat stream failed" in output  # the operator still gets the detail ...
    assert KEY not in output and HEADER not in output  # ... masked


async def test_metrics_honour_gzip_q_values() -> None:
    """gzip;q=0 refuses gzip; gzip, q>0 and * accept it."""
    app, _ = plugged_app()
    async with running(app) as client:
        for header, gzipped in (
            ("gzip;q=0", False),
            ("gzip; q=0.0, identity", False),
            ("*;q=0", False),
            ("gzip;q=0, *", False),
            ("identity", False),
            ("gzip", True),
            ("deflate, gzip;q=0.5", True),
            ("*", True),
        ):
            response = await client.get("/metrics", headers={"accept-encoding": header})
            encoding = response.headers.get("content-encoding")
            assert (encoding == "gzip") is gzipped, header
            assert b"http_requests_total" in response.content  # the client decoded it


def _record(logger: str, msg: str, args: tuple[object, ...], **extra: object) -> logging.LogRecord:
    return logging.getLogger(logger).makeRecord(
        logger, logging.INFO, __file__, 1, msg, args, None, extra=extra or None
    )


def test_json_extra_fields_and_access_paths_are_masked() -> None:
    """extra= values (nested too), the access log's url.path and url.query are masked in JSON."""
    secret = "Pg/S3cret+XYZ="
    redactor = Redactor()
    redactor.add_url(f"postgresql://u:{secret}@db/app")
    install_log_redaction(redactor)
    formatter = JsonFormatter(redact=redactor)
    record = _record(
        "app", "saw %s", (secret,), dsn={"url": f"postgresql://u:{secret}@db/app"}, key=[secret]
    )
    access = _record(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/echo/Pg/S3cret%2BXYZ%3D?token=abcdef&x=1", "1.1", 200),
    )
    lines = [formatter.format(record), formatter.format(access)]
    for line in lines:
        assert "S3cret" not in line and "abcdef" not in line, line
    fields = json.loads(lines[1])
    assert fields["url.path"] == "/echo/***"
    assert fields["url.query"] == "token=***&x=1"


def test_text_access_log_is_masked() -> None:
    """uvicorn's text access line, formatted by uvicorn's own formatter, is masked too."""
    from uvicorn.logging import AccessFormatter

    secret = "Pg/S3cret+XYZ="
    redactor = Redactor()
    redactor.add(secret)
    install_log_redaction(redactor)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(handler)
    try:
        logger.warning(
            '%s - "%s %s HTTP/%s" %d',
            "1.2.3.4:5",
            "GET",
            "/echo/Pg/S3cret%2BXYZ%3D?password=hunter22&q=Pg/S3cret%2BXYZ%3D",
            "1.1",
            200,
        )
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "GET /echo/" in line
    assert "S3cret" not in line and "hunter22" not in line, line
