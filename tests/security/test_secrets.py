"""Passwords of awkward shapes appear nowhere: /health, logs, metrics, error bodies.

A real PostgreSQL that checks passwords (SCRAM) holds two roles, one whose
password has a ``/`` (as ``openssl rand -base64`` makes them) written raw in the
URL, one with ``@`` and ``/`` percent-encoded.  The service starts while the
database is down (reconnect log lines), recovers, serves, and loses it again
(health errors, 503 bodies); everything it said is searched for the password.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from tests.security.http import raw
from tests.security.postgres import PasswordPostgres
from tests.support.procs import AppProcess, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

SLASH = "Pg/S3cret+XYZ="
AT = "Pg@S3cret/XYZ+1="
TOKEN = "health-token-for-secret-tests"
#: Present in both passwords and in nothing else the service says.
CORE = "S3cret"


def forms(password: str) -> list[str]:
    return [password, quote(password, safe=""), quote(password), quote_plus(password), CORE]


def assert_nowhere(password: str, texts: list[str]) -> None:
    for text in texts:
        for form in forms(password):
            assert form not in text, f"{form!r} leaked in:\n{text[:2000]}"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PasswordPostgres]:
    server = PasswordPostgres().init().start()
    try:
        server.create_role("slash", SLASH)
        server.create_role("at", AT)
        yield server
    finally:
        server.close()


def _get(port: int, target: str, token: bool = False) -> str:
    headers = {"authorization": f"Bearer {TOKEN}"} if token else {}
    status, body = raw(port, "GET", target, headers)
    return f"{status} {body.decode(errors='replace')}"


def _health(port: int) -> dict[str, object]:
    status, body = raw(port, "GET", "/health", {"authorization": f"Bearer {TOKEN}"})
    assert status in (200, 503)
    return dict(json.loads(body))


def _db_status(port: int) -> str | None:
    details = _health(port).get("details")
    assert isinstance(details, dict)
    db = details.get("db")
    return db.get("status") if isinstance(db, dict) else None


@pytest.mark.parametrize(
    ("role", "password", "in_url", "log_format", "details"),
    [
        ("slash", SLASH, SLASH, "text", "always"),
        ("at", AT, quote(AT, safe=""), "json", "authorized"),
        ("slash", SLASH, SLASH, "json", "never"),
        ("at", AT, quote(AT, safe=""), "text", "never"),
    ],
)
def test_database_password_appears_nowhere(
    postgres: PasswordPostgres,
    role: str,
    password: str,
    in_url: str,
    log_format: str,
    details: str,
) -> None:
    """Startup while the database is down, reconnect, service, outage: the password is in no
    log line (startup, reconnect, access, errors), /health body, /metrics or 503 body."""
    postgres.stop()
    env = {
        "SENTIENT_DATABASE_URL": postgres.role_url(role, in_url),
        "SENTIENT_DB_REQUIRED": "false",
        "SENTIENT_DB_CONNECT_TIMEOUT": "1",
        "SENTIENT_HEALTH_INTERVAL": "0.2",
        "SENTIENT_HEALTH_TOKEN": TOKEN,
        "SENTIENT_HEALTH_DETAILS": details,
        "SENTIENT_LOG_FORMAT": log_format,
        "SENTIENT_SYSTEM_CHECKS": "false",
        "SENTIENT_REQUEST_IDS": "true",
    }
    proc = AppProcess("tests.security.app:app", env)
    bodies: list[str] = []
    try:
        proc.start(wait_ready=False)
        wait_until(lambda: raw(proc.port, "GET", "/live")[0] == 200, 20, 0.05, "live")
        wait_until(lambda: "retrying" in proc.output(), 20, 0.05, "a reconnect attempt logged")
        for token in (False, True):
            bodies.append(_get(proc.port, "/health", token))
            bodies.append(_get(proc.port, "/ready", token))
        bodies.append(_get(proc.port, "/db"))

        postgres.start()
        wait_until(lambda: raw(proc.port, "GET", "/ready")[0] == 200, 30, 0.05, "reconnected")
        assert _get(proc.port, "/db").startswith("200")
        target = f"/echo/{quote(password, safe='')}?password={quote(password)}&q={quote(password)}"
        bodies.append(_get(proc.port, target))
        bodies.append(_get(proc.port, f"/echo/x?dsn={quote(postgres.role_url(role, in_url))}"))
        for token in (False, True):
            bodies.append(_get(proc.port, "/health", token))
        bodies.append(_get(proc.port, "/metrics"))

        postgres.stop()
        wait_until(lambda: raw(proc.port, "GET", "/ready")[0] == 503, 20, 0.05, "db unhealthy")
        if details != "never":
            assert _db_status(proc.port) == "unhealthy"
        body = _get(proc.port, "/db")
        assert body.startswith("503"), body
        assert "127.0.0.1" not in body and str(postgres.port) not in body
        bodies.append(body)
        for token in (False, True):
            bodies.append(_get(proc.port, "/health", token))
            bodies.append(_get(proc.port, "/ready", token))
        bodies.append(_get(proc.port, "/metrics"))
    finally:
        proc.stop()
        postgres.start()
    output = proc.output()
    assert "could not open" in output  # the startup line is there, masked
    assert "echo route" in output  # the access and extra= lines are there, masked
    assert_nowhere(password, [*bodies, output])


def test_raw_at_in_database_url_is_refused_without_echo(postgres: PasswordPostgres) -> None:
    """A raw '@' in the password (which SQLAlchemy splits, printing the tail as a host) stops
    startup with one line naming the variable; no part of the password is printed."""
    env = {"SENTIENT_DATABASE_URL": postgres.role_url("at", AT)}
    proc = AppProcess("tests.security.app:app", env)
    proc.start(wait_ready=False)
    try:
        code = proc.wait_exit(30)
    finally:
        proc.stop()
    output = proc.output()
    assert code != 0
    lines = [line for line in output.splitlines() if "SENTIENT_DATABASE_URL" in line]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    assert_nowhere(AT, [output])


def test_redis_password_appears_nowhere() -> None:
    """A raw '/' in a Redis password is refused with one line and no traceback; percent-encoded,
    it authenticates against a real redis-server and is never printed."""
    server = RedisServer(extra=["--requirepass", SLASH]).start()
    try:
        raw_url = f"redis://:{SLASH}@127.0.0.1:{server.port}/0"
        proc = AppProcess("tests.security.app:app", {"SENTIENT_REDIS_URL": raw_url})
        proc.start(wait_ready=False)
        try:
            assert proc.wait_exit(30) != 0
        finally:
            proc.stop()
        refused = proc.output()
        assert [line for line in refused.splitlines() if "SENTIENT_REDIS_URL" in line], refused
        assert "Traceback" not in refused

        url = f"redis://:{quote(SLASH, safe='')}@127.0.0.1:{server.port}/0"
        env = {
            "SENTIENT_REDIS_URL": url,
            "SENTIENT_HEALTH_TOKEN": TOKEN,
            "SENTIENT_LOG_FORMAT": "json",
            "SENTIENT_HEALTH_INTERVAL": "0.2",
        }
        proc = AppProcess("tests.security.app:app", env).start()
        bodies: list[str] = []
        try:
            bodies += [_get(proc.port, "/health", True), _get(proc.port, "/metrics")]
            server.kill()
            wait_until(lambda: raw(proc.port, "GET", "/ready")[0] == 503, 20, 0.05, "redis down")
            bodies += [_get(proc.port, "/health", True), _get(proc.port, "/health")]
            proc.signal(signal.SIGTERM)
            proc.wait_exit(30)
        finally:
            proc.stop()
        assert_nowhere(SLASH, [refused, proc.output(), *bodies])
    finally:
        server.close()
