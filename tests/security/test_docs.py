"""The security page says what the operator must do, and the docs link to it."""

from __future__ import annotations

from tests.support.procs import ROOT


def test_security_page_covers_token_port_and_network_policy() -> None:
    """docs/security.md has the threat model and names every control the operator sets."""
    page = (ROOT / "docs" / "security.md").read_text()
    for needed in (
        "## Threat model",
        "SENTIENT_HEALTH_TOKEN",
        "SENTIENT_MANAGEMENT_PORT",
        "SENTIENT_DRAIN_UNDO_AFTER",
        "NetworkPolicy",
        "/metrics",
    ):
        assert needed in page, needed


def test_security_page_is_linked() -> None:
    """README, operations and shutdown pages link to it."""
    for page in ("README.md", "docs/operations.md", "docs/shutdown.md"):
        assert "security.md" in (ROOT / page).read_text(), page
