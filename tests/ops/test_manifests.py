"""The Kubernetes manifests hold together: selectors, probes, ports and shutdown timing."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml
from asgi_lifespan import LifespanManager

from fastapi_sentient import Sentient
from fastapi_sentient.settings import load_settings
from tests.ops.kube import KUBE_DIR, Container, app_container, load_documents, manifest_files
from tests.ops.kube import objects as kube_objects
from tests.support.procs import free_port
from tests.support.redis_server import RedisServer

# Room for what runs after the shutdown tasks (pools and clients closing, the cluster
# leaving) and for the kubelet's own latency: the "+ 5" of the timing rule.
SLACK = 5.0


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    return kube_objects()


@pytest.fixture(scope="module")
def container(objects: dict[str, dict[str, Any]]) -> Container:
    return app_container(objects["Deployment"])


def pod_labels(objects: dict[str, dict[str, Any]]) -> dict[str, str]:
    labels: dict[str, str] = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    return labels


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def test_every_manifest_parses_and_is_in_the_kustomization() -> None:
    """Each YAML file parses to named objects and kustomization.yaml lists exactly those files."""
    kustomization = yaml.safe_load((KUBE_DIR / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    files = {path.name for path in manifest_files()} - {"kustomization.yaml"}
    assert listed == files
    for name in files:
        for doc in load_documents(KUBE_DIR / name):
            assert doc["apiVersion"]
            assert doc["kind"]
            assert doc["metadata"]["name"] == "fastapi-sentient"


def test_kit_has_every_object_the_deployment_needs(objects: dict[str, dict[str, Any]]) -> None:
    """The kit ships a Deployment, Service, PDB, HPA, PodMonitor and NetworkPolicy."""
    assert set(objects) == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "PodMonitor",
        "NetworkPolicy",
    }


def test_selectors_reach_the_pods(objects: dict[str, dict[str, Any]]) -> None:
    """Deployment, Service, PDB, PodMonitor and NetworkPolicy select the pod labels."""
    labels = pod_labels(objects)
    deployment = objects["Deployment"]["spec"]
    assert matches(deployment["selector"]["matchLabels"], labels)
    assert matches(objects["Service"]["spec"]["selector"], labels)
    assert matches(objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"], labels)
    assert matches(objects["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"], labels)
    monitor = objects["PodMonitor"]["spec"]
    assert matches(monitor["selector"]["matchLabels"], labels)
    container_ports = {
        port["name"] for port in deployment["template"]["spec"]["containers"][0]["ports"]
    }
    assert {endpoint["port"] for endpoint in monitor["podMetricsEndpoints"]} <= container_ports
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        objects["Deployment"]["metadata"]["name"],
    )


def test_replicas_survive_one_disruption(objects: dict[str, dict[str, Any]]) -> None:
    """Three replicas, the autoscaler never goes below them, and disruptions take one at a time."""
    replicas = objects["Deployment"]["spec"]["replicas"]
    assert replicas == 3
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["minReplicas"] == replicas
    assert hpa["maxReplicas"] > replicas
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    rollout = objects["Deployment"]["spec"]["strategy"]["rollingUpdate"]
    assert rollout["maxUnavailable"] == 0


def test_uvicorn_is_pid_1_with_a_bounded_graceful_shutdown(container: Container) -> None:
    """The container execs uvicorn directly, and its graceful timeout is the app's drain timeout."""
    command = container.command
    assert command[0] == "uvicorn", "exec uvicorn itself: a shell wrapper swallows SIGTERM"
    env = container.literal_env()
    assert float(container.option("--timeout-graceful-shutdown")) == float(
        env["SENTIENT_DRAIN_TIMEOUT"]
    )
    assert "--workers" not in command, "one process per container; scale with replicas"


def test_probe_paths_and_ports_match_the_app_settings(
    container: Container, objects: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probes hit the app port, preStop and scrapes the management port, with the app's paths."""
    for name, value in container.literal_env().items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    spec = container.spec
    port = int(container.option("--port"))
    assert settings.port == port
    assert spec["readinessProbe"]["httpGet"]["path"] == settings.ready_path
    assert spec["livenessProbe"]["httpGet"]["path"] == settings.live_path
    assert spec["startupProbe"]["httpGet"]["path"] == settings.live_path
    assert spec["lifecycle"]["preStop"]["httpGet"]["path"] == settings.drain_path
    assert settings.drain_endpoint, "preStop calls the drain path, so the endpoint must be on"
    for probe in (spec["readinessProbe"], spec["livenessProbe"], spec["startupProbe"]):
        assert container.port_number(probe["httpGet"]["port"]) == port
    assert settings.management_port is not None
    pre_stop = spec["lifecycle"]["preStop"]["httpGet"]
    assert container.port_number(pre_stop["port"]) == settings.management_port
    service_port = objects["Service"]["spec"]["ports"][0]
    assert container.port_number(service_port["targetPort"]) == port
    scrape = objects["PodMonitor"]["spec"]["podMetricsEndpoints"][0]
    assert scrape["path"] == settings.metrics_path
    assert container.port_number(scrape["port"]) == settings.management_port


def test_service_does_not_expose_the_management_port(
    container: Container, objects: dict[str, dict[str, Any]]
) -> None:
    """Only the app port is behind the Service; the NetworkPolicy admits only Prometheus to the other."""
    management = container.port_number("management")
    for entry in objects["Service"]["spec"]["ports"]:
        assert container.port_number(entry["targetPort"]) != management
    rules = objects["NetworkPolicy"]["spec"]["ingress"]
    open_rules = [rule for rule in rules if "from" not in rule]
    assert [port["port"] for rule in open_rules for port in rule["ports"]] == ["http"]
    guarded = [rule for rule in rules if "from" in rule]
    assert [port["port"] for rule in guarded for port in rule["ports"]] == ["management"]


def test_probe_windows_are_sized_for_a_busy_loop(container: Container) -> None:
    """Liveness waits 3× longer than readiness, no probe has the 1 s default timeout, boot gets 60 s+."""
    spec = container.spec

    def window(probe: dict[str, Any]) -> float:
        return float(probe["periodSeconds"] * probe["failureThreshold"])

    assert window(spec["livenessProbe"]) >= 3 * window(spec["readinessProbe"])
    assert window(spec["startupProbe"]) >= 60
    for probe in (spec["readinessProbe"], spec["livenessProbe"], spec["startupProbe"]):
        assert probe["timeoutSeconds"] >= 2


@pytest.mark.integration
async def test_grace_period_covers_the_whole_shutdown(
    container: Container,
    objects: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    redis_proc: RedisServer,
    tmp_path: Path,
) -> None:
    """terminationGracePeriodSeconds ≥ delay + drain + the running app's shutdown-task budget + 5."""
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    grace = float(pod["terminationGracePeriodSeconds"])
    env = container.literal_env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # What the cluster would fill in from fields and secrets, pointed at real local services.
    assert set(container.env) - set(env) == {
        "SENTIENT_VERSION",
        "SENTIENT_ADVERTISE_HOST",
        "SENTIENT_DATABASE_URL",
        "SENTIENT_REDIS_URL",
        "SENTIENT_HEALTH_TOKEN",
        "OPENAI_API_KEY",
    }
    monkeypatch.setenv("SENTIENT_VERSION", "0.1.0")
    monkeypatch.setenv("SENTIENT_ADVERTISE_HOST", "127.0.0.1")
    monkeypatch.setenv("SENTIENT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("SENTIENT_REDIS_URL", redis_proc.url)
    monkeypatch.setenv("SENTIENT_HEALTH_TOKEN", "manifest-test-token")
    monkeypatch.setenv("SENTIENT_HANDLE_SIGNALS", "false")  # in-process: pytest owns signals
    monkeypatch.setenv("SENTIENT_MANAGEMENT_PORT", str(free_port()))  # not the shipped 9000
    monkeypatch.setenv("SENTIENT_MANAGEMENT_HOST", "127.0.0.1")

    namespace = runpy.run_module("example_app.main", run_name="example_app_manifest_check")
    sentient = namespace["sentient"]
    assert isinstance(sentient, Sentient)
    async with LifespanManager(namespace["app"], startup_timeout=30, shutdown_timeout=30):
        settings = sentient.settings
        task_budget = sentient.lifecycle.shutdown_budget
        assert task_budget > 0, "the example registers a shutdown task"
        assert settings.termination_grace_period == grace
        needed = settings.shutdown_delay + settings.drain_timeout + task_budget + SLACK
        assert grace >= needed, (
            f"terminationGracePeriodSeconds {grace:g} < delay {settings.shutdown_delay:g} + "
            f"drain {settings.drain_timeout:g} + tasks {task_budget:g} + {SLACK:g}"
        )


def test_database_connections_fit_postgres_defaults(
    container: Container, objects: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At full scale plus a surge pod, the pools open fewer connections than PostgreSQL allows."""
    for name, value in container.literal_env().items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    pods = (
        objects["HorizontalPodAutoscaler"]["spec"]["maxReplicas"]
        + objects["Deployment"]["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    )
    per_pod = settings.db_pool_size + settings.db_max_overflow
    # max_connections defaults to 100, of which 3 are reserved for superusers; keep
    # a few more for migrations and an operator's psql session.
    assert pods * per_pod <= 90, f"{pods} pods × {per_pod} connections"
