"""A throwaway Prometheus server: temp config and storage, a free port, a fast scrape."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx2
import yaml

from tests.support.procs import free_port, wait_until
from tests.support.redis_server import require_binary


class PrometheusError(AssertionError):
    """Prometheus answered a query with an error."""


class PrometheusServer:
    """One ``prometheus`` process scraping ``targets`` every ``interval`` and evaluating ``rule_files``."""

    def __init__(
        self,
        job: str,
        targets: list[str],
        rule_files: list[Path] | None = None,
        interval: str = "500ms",
    ) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="prometheus-test-"))
        self.config = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": [str(path) for path in rule_files or []],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}],
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        binary = require_binary("prometheus", "prometheus")
        config = self.dir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config))
        self.log = (self.dir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._ready, 30, 0.1, "prometheus /-/ready")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited {self.proc.returncode}:\n{self.output()}")
        try:
            return httpx2.get(self.url + "/-/ready", timeout=1).status_code == 200
        except httpx2.HTTPError:
            return False

    def output(self) -> str:
        path = self.dir / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def api(self, path: str, **params: str) -> Any:
        """``data`` of an HTTP API answer; an error answer raises :class:`PrometheusError`."""
        response = httpx2.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query (vector, scalar or string results as a list)."""
        data = self.api("query", query=expr)
        result = data["result"]
        return result if isinstance(result, list) else [result]

    def query_range(self, expr: str, seconds: int = 60, step: str = "1s") -> list[dict[str, Any]]:
        """A range query over the last ``seconds``, as a dashboard panel would run it."""
        now = self.api("query", query="time()")["result"][1]
        start = float(now) - seconds
        data = self.api("query_range", query=expr, start=str(start), end=str(now), step=step)
        return list(data["result"])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "log", None) is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
