"""fastapi_sentient.llm exports exactly what docs/llm.md and docs/resilience.md teach."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import fastapi_sentient.llm as llm

DOCS = Path(__file__).resolve().parents[2] / "docs"
TAUGHT = (DOCS / "llm.md").read_text() + (DOCS / "resilience.md").read_text()

DOCUMENTED = {
    "AllTargetsFailedError",
    "CircuitOpenError",
    "ConcurrencyLimitError",
    "LLMRequest",
    "LLMResult",
    "LLMStream",
    "Message",
    "NoProviderError",
    "PoolExhaustedError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "ResponseSchema",
    "StopReason",
    "ThrottledError",
    "Tool",
    "ToolCall",
    "UnsupportedRequestError",
    "Usage",
}


def test_all_is_the_documented_names() -> None:
    """Nothing internal (classify, Outcome, SDKStream, adapters) is exported."""
    assert set(llm.__all__) == DOCUMENTED
    assert len(llm.__all__) == len(DOCUMENTED)


def test_each_exported_name_is_taught_and_importable() -> None:
    """Every name of __all__ appears in the docs as code and resolves on the package."""
    for name in llm.__all__:
        assert re.search(rf"`[^`]*\b{name}\b[^`]*`", TAUGHT), name
        assert getattr(llm, name) is not None, name


def test_former_gateway_name_still_imports() -> None:
    """``LLMRegistry`` (the gateway's former name) resolves to the gateway."""
    from fastapi_sentient.llm import LLMRegistry
    from fastapi_sentient.llm._gateway import LLMGateway

    assert LLMRegistry is LLMGateway


def test_vendor_facts_import_no_http_client() -> None:
    """The package and its vendor facts load without httpx2 (the pools and secrets read them)."""
    code = (
        "import sys\n"
        "import fastapi_sentient.llm._adapters\n"
        "print(any(m == 'httpx2' or m.startswith('httpx2.') for m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False", done.stderr


def test_settings_default_anthropic_version_is_the_vendors() -> None:
    """The provider entry's ``anthropic_version`` default is the adapter's API version.

    The settings module cannot import the LLM package (which imports the
    resilience layer, which imports the settings), so the one vendor fact it
    repeats is pinned here.
    """
    from fastapi_sentient.llm._adapters import anthropic
    from fastapi_sentient.settings import LLMProviderSettings

    assert LLMProviderSettings.model_fields["anthropic_version"].default == anthropic.API_VERSION
