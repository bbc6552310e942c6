"""Regenerate the variable table of docs/configuration.md from SentientSettings.

Run ``.venv/bin/python docs/gen_configuration.py``; a test fails when the page
and the settings disagree, so the table can never drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic_core import PydanticUndefined

from fastapi_sentient.settings import SentientSettings, env_name

PAGE = Path(__file__).with_name("configuration.md")
BEGIN = "<!-- BEGIN GENERATED TABLE -->"
END = "<!-- END GENERATED TABLE -->"


def _default(field_name: str) -> str:
    field = SentientSettings.model_fields[field_name]
    if field_name == "shutdown_delay":
        return "`0` (`5` in Kubernetes)"
    if field_name == "version":
        return "package version"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    if hasattr(value, "value"):
        value = value.value
    return f"`{json.dumps(value) if isinstance(value, list | dict | bool) else value}`"


def table() -> str:
    """The markdown table of every variable."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in SentientSettings.model_fields.items():
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{env_name(name)}` | {_default(name)} | {description} |")
    return "\n".join(rows)


def render(page: str) -> str:
    """``page`` with its generated section replaced by the current table."""
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    PAGE.write_text(render(PAGE.read_text()))
    sys.stdout.write(f"wrote {PAGE}\n")
