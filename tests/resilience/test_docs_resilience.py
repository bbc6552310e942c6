"""docs/resilience.md stays true to the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fastapi_sentient.resilience._metrics import ResilienceMetrics
from fastapi_sentient.settings import HttpClientSettings, PolicySettings, SentientSettings
from tests.support.asgi import plugged_app

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "resilience.md").read_text()


def table_keys(heading: str) -> set[str]:
    """The first-column keys of the table that follows ``heading``."""
    section = PAGE.split(heading, 1)[1].split("\n\n| key")[1].split("\n\n")[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", "| key" + section, flags=re.M))


def test_python_snippets_compile() -> None:
    """Every python block is valid Python."""
    blocks = [block.split("```", 1)[0] for block in PAGE.split("```python\n")[1:]]
    assert len(blocks) >= 3
    for block in blocks:
        compile(block, "resilience.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_every_policy_and_client_key_is_documented() -> None:
    """The two key tables list exactly the settings models' fields."""
    assert table_keys("`SENTIENT_RESILIENCE_POLICIES` is") == set(PolicySettings.model_fields)
    assert table_keys("`SENTIENT_HTTP_CLIENTS` is") == set(HttpClientSettings.model_fields)


def test_every_variable_named_exists() -> None:
    """Each SENTIENT_* variable the page names is a real setting (or a prefix of some)."""
    fields = {f"SENTIENT_{name.upper()}" for name in SentientSettings.model_fields}
    named = set(re.findall(r"SENTIENT_[A-Z_]*[A-Z]", PAGE))
    prefixes = {n for n in named if any(f.startswith(n + "_") for f in fields)}
    assert named - prefixes <= fields, sorted(named - prefixes - fields)


def test_every_metric_is_documented() -> None:
    """The metrics table names every instrument of the resilience layer."""
    _, sentient = plugged_app()
    metrics = sentient.resilience.metrics
    assert isinstance(metrics, ResilienceMetrics)
    # prometheus-client keeps a counter's name without its _total suffix
    names = {m._name for m in vars(metrics).values() if hasattr(m, "_name")}
    assert len(names) == 7
    for name in names:
        assert f"`{name}" in PAGE, name
