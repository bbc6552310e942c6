"""Object storage through its documented, unauthenticated health endpoints.

MinIO (and S3-compatible servers that copy its probes) serves::

    /minio/health/live          200 online; 429 under high load (route elsewhere)
    /minio/health/ready         200 ready to serve requests
    /minio/health/cluster       200 the cluster has write quorum; 503 it does not
    /minio/health/cluster/read  200 the cluster has read quorum; 503 it does not

A 429 is reported as degraded.  Stores without a health endpoint (AWS S3, GCS)
are best checked with :class:`~fastapi_sentient.health.checks._http.HttpCheck`
on the bucket URL, where 403 still proves the service answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from fastapi_sentient.health.checks._http import SUCCESS, HttpCheck

if TYPE_CHECKING:
    import httpx2

Probe = Literal["live", "ready", "cluster", "cluster/read"]


class ObjectStorageCheck(HttpCheck):
    """A MinIO-style probe: ``live`` (default), ``ready``, ``cluster`` or ``cluster/read``."""

    def __init__(
        self,
        url: str,
        *,
        probe: Probe = "live",
        timeout: float = 5.0,
        client: httpx2.AsyncClient | None = None,
    ) -> None:
        endpoint = f"{url.rstrip('/')}/minio/health/{probe}"
        super().__init__(endpoint, expect=SUCCESS, degraded=(429,), timeout=timeout, client=client)
        self.probe = probe
