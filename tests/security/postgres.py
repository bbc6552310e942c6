"""A throwaway PostgreSQL that checks passwords (SCRAM over TCP), with roles made by psql."""

from __future__ import annotations

import subprocess

from tests.pools.postgres_server import PostgresServer, _pg_bin


class PasswordPostgres(PostgresServer):
    """Trust on the Unix socket (for psql as postgres), scram-sha-256 on 127.0.0.1."""

    def init(self) -> PasswordPostgres:
        super().init()
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )
        return self

    def create_role(self, name: str, password: str) -> None:
        """A login role with ``password``, made through psql as the superuser."""
        escaped = password.replace("'", "''")
        subprocess.run(
            [
                *self.as_postgres,
                _pg_bin("psql"),
                "-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                "-v", "ON_ERROR_STOP=1", "-q",
                "-c", f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{escaped}'",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip

    def role_url(self, name: str, password_in_url: str) -> str:
        return f"postgresql+asyncpg://{name}:{password_in_url}@127.0.0.1:{self.port}/postgres"
