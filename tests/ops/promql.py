"""Which metrics a PromQL expression reads: a small lexer, enough for our rules and dashboard.

It is not a parser: it walks tokens, drops strings, ranges, numbers, keywords,
function and aggregation names and the label lists of ``by``/``on``/…, and what
is left are vector selectors.  Prometheus itself parses every expression in the
end-to-end test, so a syntax slip cannot hide behind this helper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<braces>\{(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^{}"'])*\})
  | (?P<brackets>\[[^\]]*\])
  | (?P<number>\d[\w.]*|\.\d[\w.]*)
  | (?P<variable>\$\{?\w+\}?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_KEYWORDS = frozenset(
    ["and", "or", "unless", "bool", "offset", "inf", "nan", "start", "end", "atan2"]
)
_LABEL_LISTS = frozenset(["by", "without", "on", "ignoring", "group_left", "group_right"])
_AGGREGATIONS = frozenset(
    [
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ]
)
_MATCHER = re.compile(r"""([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*("(?:\\.|[^"\\])*")""")


@dataclass(frozen=True)
class Selector:
    """One vector selector: a metric name and its label matchers ``(label, op, value)``."""

    name: str
    matchers: tuple[tuple[str, str, str], ...]

    def matcher(self, label: str) -> tuple[str, str] | None:
        """The ``(op, value)`` of the matcher on ``label``, if any."""
        for name, op, value in self.matchers:
            if name == label:
                return op, value
        return None


def _tokens(expr: str) -> list[tuple[str, str]]:
    out = []
    for match in _TOKEN.finditer(expr):
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            out.append((kind, match.group()))
    return out


def _matchers(braces: str) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (label, op, value[1:-1].encode().decode("unicode_escape"))
        for label, op, value in _MATCHER.findall(braces)
    )


def selectors(expr: str) -> list[Selector]:
    """The vector selectors of ``expr``, in order."""
    tokens = _tokens(expr)
    found: list[Selector] = []
    index = 0
    after_name = False  # the previous token was a metric name (its braces are its matchers)
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        named = after_name
        after_name = False
        if kind == "ident" and text in _LABEL_LISTS:
            index += 1
            if following[0] == "lparen":  # skip the label list
                while tokens[index][0] != "rparen":
                    index += 1
        elif kind == "ident" and (
            text.lower() in _KEYWORDS or text in _AGGREGATIONS or following[0] == "lparen"
        ):
            pass  # keyword, aggregation or function call
        elif kind == "ident":
            matchers = _matchers(following[1]) if following[0] == "braces" else ()
            found.append(Selector(text, matchers))
            after_name = True
        elif kind == "braces" and not named:  # a selector without a name: {__name__="…"}
            matchers = _matchers(text)
            name = next((value for label, op, value in matchers if label == "__name__"), "")
            if name:
                found.append(Selector(name, matchers))
        index += 1
    return found


def metric_names(expr: str) -> set[str]:
    """The names of the series ``expr`` reads."""
    return {selector.name for selector in selectors(expr)}
