"""Reading the Kubernetes manifests of ``deploy/kubernetes/`` the way the API server would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.procs import ROOT

KUBE_DIR = ROOT / "deploy" / "kubernetes"


def manifest_files() -> list[Path]:
    """Every manifest file, kustomization included."""
    return sorted(KUBE_DIR.glob("*.yaml"))


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of one file (empty documents dropped)."""
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def objects() -> dict[str, dict[str, Any]]:
    """The Kubernetes objects of the kit by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for path in manifest_files():
        if path.name == "kustomization.yaml":
            continue
        for doc in load_documents(path):
            kind = doc["kind"]
            assert kind not in found, f"two {kind} objects; the tests expect one"
            found[kind] = doc
    return found


@dataclass(frozen=True)
class Container:
    """The app container of the Deployment, with its env and uvicorn options parsed."""

    spec: dict[str, Any]

    @property
    def command(self) -> list[str]:
        return [str(part) for part in self.spec.get("command", []) + self.spec.get("args", [])]

    def option(self, name: str) -> str:
        """The value of a ``--name value`` uvicorn option."""
        command = self.command
        index = command.index(name)
        return command[index + 1]

    @property
    def target(self) -> str:
        """The ``module:attr`` uvicorn serves."""
        return self.command[1]

    def uvicorn_options(self) -> list[str]:
        """uvicorn's options minus the target, ``--host`` and ``--port`` (a test picks its own)."""
        options = self.command[2:]
        kept: list[str] = []
        skip = False
        for part in options:
            if skip:
                skip = False
            elif part in ("--host", "--port"):
                skip = True
            else:
                kept.append(part)
        return kept

    @property
    def env(self) -> dict[str, dict[str, Any]]:
        return {item["name"]: item for item in self.spec.get("env", [])}

    def literal_env(self) -> dict[str, str]:
        """The variables set to plain values (not from secrets or fields)."""
        return {name: str(item["value"]) for name, item in self.env.items() if "value" in item}

    def port_number(self, port: int | str) -> int:
        """A probe's port, resolving a named container port."""
        if isinstance(port, int):
            return port
        for entry in self.spec["ports"]:
            if entry["name"] == port:
                return int(entry["containerPort"])
        raise AssertionError(f"container has no port named {port!r}")


def app_container(deployment: dict[str, Any]) -> Container:
    """The only container of the Deployment's pod template."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "the kit runs one container per pod"
    return Container(containers[0])
