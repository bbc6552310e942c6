"""Keeping secrets out of responses, logs and metric labels.

Errors from drivers often quote the URL they failed on, password included, and
provider errors can echo an API key.  Every string we show (health errors,
startup failures, logs we write) goes through :func:`redact` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]{8,}")
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|sk-ant-[A-Za-z0-9_\-]{8,})")

MASK = "***"


def mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` → ``postgresql://user:***@host/db``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


class Redactor:
    """Masks URL passwords, bearer tokens, key-shaped strings and registered secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = {s for s in secrets if s and len(s) >= 4}

    def add(self, secret: str | None) -> None:
        """Remember a secret value (an API key, a token, a password) to mask everywhere."""
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        text = mask_url(text)
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        text = _KEYLIKE.sub(MASK, text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
