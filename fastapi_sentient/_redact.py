"""Keeping secrets out of responses, logs and metric labels.

Errors from drivers often quote the URL they failed on, password included, and
provider errors can echo an API key or a header they were sent.  Patterns
alone miss secrets of unusual shapes (a password with ``/`` or ``@`` is not
where a URL regex looks for it), so secrets are *registered*: every configured
URL's password as the drivers parse it (SQLAlchemy's ``make_url``, redis-py's
URL parser) and as a naive parser would, API keys, header values and the
health token, each in its raw, percent-decoded and percent-encoded forms.
Every string we show goes through :class:`Redactor`, and once a
:class:`Redactor` is installed for logging (:func:`install_log_redaction`)
every log record of every logger is masked before any handler sees it, in
text and JSON formats alike.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlencode

# The password runs to the *last* '@' of the URL (a raw '@' in a password is then
# masked whole) and may contain '/' (base64 passwords do); it stops at whitespace
# and quotes, so a URL quoted in a message is masked without its surroundings.
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s'\"]*):(?P<pw>[^\s'\"<>]*)@"
    r"(?=[^\s@'\"<>]*(?:[\s'\"<>]|$))"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]{8,}")
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|sk-ant-[A-Za-z0-9_\-]{8,})")
_SENSITIVE_QUERY = ("token", "key", "secret", "password", "passwd", "signature", "sig", "auth")

_SQL_DIALECTS = frozenset(
    {"postgresql", "postgres", "sqlite", "mysql", "mariadb", "oracle", "mssql", "cockroachdb"}
)

MASK = "***"
#: Shorter values are not registered: masking every "true" or "1" would garble logs.
MIN_SECRET = 4


def mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` → ``postgresql://user:***@host/db``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def mask_query(target: str) -> str:
    """A path with a query: values of secret-looking parameters become ``***``."""
    path, sep, query = target.partition("?")
    if not sep or not query:
        return target
    if not _sensitive(query):  # no parameter name can be sensitive either
        return target
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(_sensitive(key) for key, _ in pairs):
        return target
    masked = [(key, MASK if _sensitive(key) else value) for key, value in pairs]
    return f"{path}?{urlencode(masked, safe='*')}"


def _sensitive(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in _SENSITIVE_QUERY)


def secret_forms(secret: str) -> set[str]:
    """The spellings a secret can take in a URL, a header or a log line."""
    forms = {
        secret,
        unquote(secret),
        unquote_plus(secret),
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote(secret),
        quote_plus(secret),
    }
    decoded = unquote(secret)
    forms |= {quote(decoded, safe=""), quote_plus(decoded), quote(decoded)}
    return {form for form in forms if len(form) >= MIN_SECRET}


def url_passwords(url: str) -> set[str]:
    """Every password a parser could find in ``url``: the drivers', and naive splits.

    A raw ``@`` makes parsers disagree (SQLAlchemy splits at the first ``@``,
    ``urlsplit`` at the last), and then the tail of the password lands in the
    "host"; each piece between ``@`` is registered so neither half is shown.
    """
    _, sep, rest = url.partition("://")
    if not sep:
        return set()
    found: set[str] = set()
    last_at = rest.rfind("@")
    if last_at < 0:
        return found
    userinfo = rest[:last_at]
    _, colon, password = userinfo.partition(":")
    if colon and password:
        found.add(password)
        found.update(piece for piece in password.split("@") if piece)
    found.update(_driver_passwords(url))
    return {p for p in found if p}


def _driver_passwords(url: str) -> Iterator[str]:
    scheme = url.partition("://")[0].lower()
    if scheme.startswith(("redis", "rediss", "unix")):
        try:
            from redis.connection import parse_url
        except ImportError:
            return
        try:
            password = parse_url(url).get("password")  # type: ignore[no-untyped-call]
        except Exception:  # noqa: BLE001  redis-py refuses the URL; the settings check says why
            return
        if isinstance(password, str):
            yield password
        return
    if scheme.partition("+")[0] not in _SQL_DIALECTS:
        return
    try:
        from sqlalchemy.engine import make_url
    except ImportError:
        return
    try:
        password = make_url(url).password
    except Exception:  # noqa: BLE001  masking never fails; an unparsable URL has no password
        return
    if isinstance(password, str):
        yield password


class Redactor:
    """Masks URL passwords, bearer tokens, key-shaped strings and registered secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a secret value (an API key, a token, a password) to mask everywhere."""
        if not secret:
            return
        new = secret_forms(secret) - self._secrets
        if new:
            self._secrets |= new
            # longest first: a secret's encoded form is masked whole, not around a shorter form
            self._ordered = sorted(self._secrets, key=len, reverse=True)

    def add_url(self, url: str | None) -> None:
        """Register every password ``url`` can be read to contain."""
        if url:
            for password in url_passwords(url):
                self.add(password)

    def __call__(self, text: str) -> str:
        # cheap substring tests first: most log lines have no URL, token or key in them
        if "://" in text:
            text = mask_url(text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        if "sk-" in text:
            text = _KEYLIKE.sub(MASK, text)
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """``value`` with every string inside it (dicts, lists, tuples) masked."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(item) for item in value)
        if value is None or isinstance(value, bool | int | float):
            return value
        text = str(value)
        masked = self(text)
        return masked if masked != text else value


# --- logging ------------------------------------------------------------------------------

# Weak references, so an app that is gone (tests make hundreds) stops costing anything;
# the tuple is rebuilt when one is added or collected, and read without a lock.
_refs: tuple[weakref.ref[Redactor], ...] = ()
_lock = threading.RLock()  # a collection inside the lock calls _prune
_installed: Callable[..., logging.LogRecord] | None = None
_ACCESS_LOGGER = "uvicorn.access"
_exception_formatter = logging.Formatter()


def redact_all(text: str) -> str:
    """``text`` through every redactor installed for logging."""
    for ref in _refs:
        redactor = ref()
        if redactor is not None:
            text = redactor(text)
    return text


def _prune(_dead: weakref.ref[Redactor]) -> None:
    global _refs
    with _lock:
        _refs = tuple(ref for ref in _refs if ref() is not None)


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return redact_all(arg)
    if arg is None or isinstance(arg, bool | int | float):
        return arg
    text = str(arg)
    masked = redact_all(text)
    return masked if masked != text else arg


def _redact_record(record: logging.LogRecord) -> None:
    if not _refs:
        return
    if isinstance(record.msg, str):
        record.msg = redact_all(record.msg)
    args = record.args
    if isinstance(args, tuple):
        if record.name == _ACCESS_LOGGER and len(args) == 5:
            # uvicorn's access record: (client, method, path with query, version, status)
            client, method, path, version, status = args
            args = (client, method, mask_query(str(path)), version, status)
        record.args = tuple(_redact_arg(arg) for arg in args)
    elif isinstance(args, dict):
        record.args = {key: _redact_arg(value) for key, value in args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_all(_exception_formatter.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact_all(record.stack_info)


def install_log_redaction(redactor: Redactor) -> None:
    """Mask ``redactor``'s secrets in every log record of this process, from now on.

    A log record factory sees each record once, before any handler or formatter
    (ours, uvicorn's, the application's own), so the masking cannot be
    bypassed by how logging is configured or when.
    """
    global _installed, _refs
    with _lock:
        if all(ref() is not redactor for ref in _refs):
            _refs = (*_refs, weakref.ref(redactor, _prune))
        if _installed is not None:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                _redact_record(record)
            except Exception:  # noqa: BLE001  masking must never lose a log line
                record.msg, record.args = "(log line withheld: masking failed)", ()
            return record

        logging.setLogRecordFactory(factory)
        _installed = factory
