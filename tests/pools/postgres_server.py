"""Throwaway PostgreSQL clusters on free ports, which tests may stop and start again.

The machine's own PostgreSQL (port 5432) serves ordinary tests; outage tests
need a server they may take down, so they get their own cluster, initialised
by ``initdb`` as the ``postgres`` user in a temporary directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.procs import free_port, port_open, wait_until


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        message = f"{name} not found: install the Debian package 'postgresql'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found[-1]


class PostgresServer:
    """One PostgreSQL cluster with trust authentication, fsync off, on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pg-test-"))
        self.data = self.root / "data"
        self.as_postgres: list[str] = []

    def url(self, password: str | None = None) -> str:
        auth = f"postgres:{password}" if password else "postgres"
        return f"postgresql+asyncpg://{auth}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        return self

    def start(self) -> PostgresServer:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off"
        )
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "log"), "-w", "start",
        )  # fmt: skip
        wait_until(lambda: port_open(self.port), 10, what=f"postgres on {self.port}")
        return self

    def stop(self) -> None:
        """Stop now (``-m fast``: sessions are terminated, as in a crash or failover)."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        wait_until(lambda: not port_open(self.port), 10, what="postgres port closed")

    def close(self) -> None:
        if port_open(self.port):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
