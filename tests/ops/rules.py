"""The Prometheus rules of ``deploy/prometheus/`` and their promtool unit tests, as data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.procs import ROOT

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULES_FILE = PROMETHEUS_DIR / "sentient-rules.yaml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yaml"))


def rules() -> list[dict[str, Any]]:
    """Every recording and alerting rule, in file order."""
    data = yaml.safe_load(RULES_FILE.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    """Alerting rules by name."""
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def recorded_names() -> set[str]:
    """The series names the recording rules produce."""
    return {rule["record"] for rule in rules() if "record" in rule}


def rule_test_cases(path: Path) -> list[dict[str, Any]]:
    """The ``alert_rule_test`` entries of one promtool test file."""
    data = yaml.safe_load(path.read_text())
    return [case for test in data["tests"] for case in test.get("alert_rule_test", [])]
