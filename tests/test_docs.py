"""The documentation stays true to the code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_configuration_table_matches_settings() -> None:
    """docs/configuration.md lists every setting with its current default and meaning."""
    spec = importlib.util.spec_from_file_location(
        "gen_configuration", ROOT / "docs" / "gen_configuration.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert module.render(page) == page, "run: .venv/bin/python docs/gen_configuration.py"


def test_readme_gives_the_two_commands() -> None:
    """The README's quickstart is make run and make test."""
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme


def python_blocks(page: str) -> list[str]:
    """The ```python blocks of a docs page."""
    text = (ROOT / "docs" / page).read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def test_quickstart_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The quickstart's main snippet is a working app: ready, degraded check, route answers."""
    from fastapi.testclient import TestClient

    # a busy machine would add a degraded CPU check to the one the snippet degrades
    monkeypatch.setenv("SENTIENT_SYSTEM_CHECKS", "false")

    namespace: dict[str, object] = {"__name__": "quickstart"}
    exec(compile(python_blocks("quickstart.md")[0], "quickstart.md", "exec"), namespace)
    with TestClient(namespace["app"]) as client:  # type: ignore[arg-type]
        assert client.get("/ready").status_code == 200
        assert client.get("/health").json()["degraded"] == 1
        assert client.get("/agents/a7").json() == {"agent": "a7", "leader": True}


def test_contributing_names_real_paths_and_targets() -> None:
    """Every repository path and make target CONTRIBUTING.md names exists."""
    page = (ROOT / "CONTRIBUTING.md").read_text()
    concrete = re.sub(r"[\w./-]*<[^>]+>[\w./-]*", "", page)  # templates such as <kind>.py
    roots = "fastapi_sentient|tests|docs|bench|example_app|deploy|\\.ci"
    paths = set(re.findall(rf"(?<![\w/.])((?:{roots})/[\w./-]*\w)", concrete))
    paths |= {"pyproject.toml", ".pre-commit-config.yaml", "CHANGELOG.md", "Makefile"}
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    named = set(re.findall(r"`make ([a-z-]+)", page))
    assert named
    assert sorted(named - targets) == []


def test_design_figures_name_real_modules() -> None:
    """Each figure behind a design choice names a module that still exists."""
    table = (ROOT / "bench" / "design_figures.md").read_text()
    modules = set(re.findall(r"`(fastapi_sentient/[\w./]+\.py)`", table))
    assert modules
    assert sorted(m for m in modules if not (ROOT / m).exists()) == []
