"""docs/llm.md stays true to the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fastapi_sentient.settings import SentientSettings

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "llm.md").read_text()


def test_python_snippets_compile() -> None:
    """Every python block of docs/llm.md is valid Python (top-level await allowed)."""
    blocks = [block.split("```", 1)[0] for block in PAGE.split("```python\n")[1:]]
    assert len(blocks) >= 3
    for block in blocks:
        compile(block, "llm.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_every_variable_named_exists() -> None:
    """Each SENTIENT_LLM_* variable the page names is a real setting."""
    fields = {f"SENTIENT_{name.upper()}" for name in SentientSettings.model_fields}
    named = set(re.findall(r"SENTIENT_LLM_[A-Z_]*[A-Z]", PAGE))
    prefixes = {n for n in named if any(f.startswith(n + "_") for f in fields)}
    assert named - prefixes <= fields, sorted(named - prefixes - fields)
