"""The public surface is what docs/api.md lists, module by module, and nothing more.

Each ``## `module` `` section of docs/api.md is a table of names; the module's
``__all__`` must be exactly that table.  A package must not hand out any other class or
function of ours under a public name either (``from fastapi_sentient.cluster import X``
works only for documented X), and every module outside the documented ones is private.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def _documented() -> dict[str, set[str]]:
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in API.splitlines():
        heading = re.match(r"^## `([\w.]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), set())
            continue
        row = re.match(r"^\| `(\w+)` \|", line)
        if row and current is not None:
            current.add(row.group(1))
    return sections


DOCUMENTED = _documented()
PUBLIC_MODULES = sorted(DOCUMENTED)


def test_the_page_lists_every_public_module() -> None:
    """The root, settings, exceptions and each subsystem's package have a section."""
    assert set(PUBLIC_MODULES) == {
        "fastapi_sentient",
        "fastapi_sentient.settings",
        "fastapi_sentient.exceptions",
        "fastapi_sentient.health",
        "fastapi_sentient.health.checks",
        "fastapi_sentient.metrics",
        "fastapi_sentient.pools",
        "fastapi_sentient.resilience",
        "fastapi_sentient.cluster",
        "fastapi_sentient.llm",
        "fastapi_sentient.tracing",
    }


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_the_documented_table(name: str) -> None:
    """``__all__`` holds exactly the names the page documents for the module."""
    module = importlib.import_module(name)
    assert set(module.__all__) == DOCUMENTED[name]
    for exported in module.__all__:
        assert getattr(module, exported) is not None, exported


@pytest.mark.parametrize("name", [m for m in PUBLIC_MODULES if m.count(".") <= 2])
def test_a_package_hands_out_no_undocumented_name_of_ours(name: str) -> None:
    """No class or function of the package is reachable under a public name outside __all__."""
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return  # settings and exceptions are modules: their helpers' imports are theirs
    leaked = {
        attribute
        for attribute, value in vars(module).items()
        if not attribute.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("fastapi_sentient")
        and attribute not in module.__all__
    }
    assert leaked == set()


def test_every_other_module_is_private() -> None:
    """A module the page does not list has a ``_`` name (or lives in a ``_`` package)."""
    package = ROOT / "fastapi_sentient"
    public_files = {
        *(package / Path(*name.split(".")[1:]) / "__init__.py" for name in PUBLIC_MODULES),
        package / "settings.py",
        package / "exceptions.py",
    }
    exposed = []
    for path in package.rglob("*.py"):
        relative = path.relative_to(package)
        if path in public_files or any(part.startswith("_") for part in relative.parts[:-1]):
            continue
        if not relative.name.startswith("_"):
            exposed.append(str(relative))
    assert sorted(exposed) == []
