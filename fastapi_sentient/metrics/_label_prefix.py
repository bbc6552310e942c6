"""Series prefixes (``name{label="value",…} ``) built once and reused across scrapes.

Both fast encoders spend most of a scrape formatting label strings that do not
change between scrapes; this cache is what makes them fast.  Names outside the
legacy character sets need the library's escaping rules, so they raise the
encoder's fallback exception instead of being rendered here.
"""

from __future__ import annotations

import re

#: Label names every exposition format writes unchanged.
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: Entries kept before the cache starts over: unbounded user labels stay correct, just slower.
MAX_CACHED = 200_000


def escape_value(value: str) -> str:
    """A label value or help text escaped as both text formats escape it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class LabelPrefixes:
    """The prefix of each (name, labels) pair, built on first use."""

    def __init__(self, metric_name: re.Pattern[str], fallback: type[Exception]) -> None:
        self._metric_name = metric_name
        self._fallback = fallback
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def get(self, name: str, labels: dict[str, str]) -> str:
        """``name{…} `` for this series; raises the fallback for names we must not write."""
        key = (name, tuple(labels.items()))
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._build(name, labels)
            if len(self._prefixes) >= MAX_CACHED:
                self._prefixes.clear()
            self._prefixes[key] = prefix
        return prefix

    def _build(self, name: str, labels: dict[str, str]) -> str:
        if not self._metric_name.match(name):
            raise self._fallback
        if not labels:
            return f"{name} "
        parts = []
        for label, value in sorted(labels.items()):
            if not LABEL_NAME.match(label):
                raise self._fallback
            parts.append(f'{label}="{escape_value(value)}"')
        return f"{name}{{{','.join(parts)}}} "
