"""The alert rules pass promtool's checks and unit tests, and every alert is tested both ways."""

from __future__ import annotations

import subprocess

import pytest

from tests.ops.kube import objects as kube_objects
from tests.ops.promql import selectors
from tests.ops.rules import RULE_TESTS, RULES_FILE, alerts, recorded_names, rule_test_cases, rules
from tests.support.redis_server import require_binary

EXPECTED_ALERTS = {
    "SentientHighErrorRatio",
    "SentientLatencySLOFastBurn",
    "SentientLatencySLOSlowBurn",
    "SentientInstanceNotReady",
    "SentientCriticalCheckFailing",
    "SentientNoLeader",
    "SentientMultipleLeaders",
    "SentientLeaderFlapping",
    "SentientCircuitBreakerOpen",
    "SentientPoolExhausted",
    "SentientLLMCostSpike",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool", "prometheus")
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=60, cwd=RULES_FILE.parent
    )


def test_promtool_check_rules_is_clean() -> None:
    """promtool check rules accepts the rule file and reports every rule."""
    result = promtool("check", "rules", RULES_FILE.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda path: path.name)
def test_promtool_rule_unit_tests_pass(path: object) -> None:
    """promtool test rules passes every unit test of the rules."""
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_the_kit_promises_exist() -> None:
    """Error ratio, SLO burn, readiness, leadership, breaker, pool and cost alerts are defined."""
    assert set(alerts()) == EXPECTED_ALERTS


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """Each alert has a promtool case where it fires and one where it stays silent."""
    cases = [case for path in RULE_TESTS for case in rule_test_cases(path)]
    for name in alerts():
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name} never tested firing"
        assert any(not case["exp_alerts"] for case in mine), f"{name} never tested quiet"


def test_every_alert_has_severity_and_runbook() -> None:
    """Alerts carry a severity and a runbook section that exists in docs/operations.md."""
    from tests.support.procs import ROOT

    page = (ROOT / "docs" / "operations.md").read_text().lower()
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in {"critical", "warning"}
        runbook = rule["annotations"]["runbook"]
        assert runbook == f"docs/operations.md#{name.lower()}"
        assert f"### {name.lower()}" in page, f"docs/operations.md has no section for {name}"


def test_rules_select_the_pod_monitor_job() -> None:
    """Every raw-metric selector is scoped to the job the PodMonitor produces."""
    objects = kube_objects()
    job_label = objects["PodMonitor"]["spec"]["jobLabel"]
    job = objects["Deployment"]["spec"]["template"]["metadata"]["labels"][job_label]
    recorded = recorded_names()
    for rule in rules():
        for selector in selectors(rule["expr"]):
            if selector.name in recorded:
                continue
            assert selector.matcher("job") == ("=", job), (
                f"{rule.get('alert') or rule.get('record')}: {selector.name} is not scoped "
                f'to job="{job}"'
            )
