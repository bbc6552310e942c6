"""Settings grouped by subsystem: each subsystem is handed only the slice it uses.

``SentientSettings`` stays flat because every ``SENTIENT_*`` variable keeps its name; these
frozen views are what the wiring passes on (``settings.cluster`` to the coordinator,
``settings.database`` to the engine …), so a subsystem's constructor says which settings it
reads and a test can build one without the rest.  A group's field is named without its
subsystem's prefix (``settings.database.pool_size`` is ``SENTIENT_DB_POOL_SIZE``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic import SecretStr

    from fastapi_sentient.settings import (
        HttpClientSettings,
        LLMProviderSettings,
        PolicySettings,
        PriceSetting,
        SentientSettings,
    )


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    """Who this process is: names in metrics, traces, health and the cluster."""

    service_name: str
    environment: str
    version: str
    region: str | None
    node_id: str | None
    advertise_host: str | None
    port: int | None


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """The probe, metrics and drain endpoints, and who may call them."""

    live_path: str
    ready_path: str
    health_path: str
    metrics_path: str
    drain_path: str
    drain_endpoint: bool
    drain_undo_after: float
    management_port: int | None
    management_host: str
    health_token: SecretStr | None
    #: the effective gating: a configured token alone unlocks details for its bearer
    health_details: Literal["never", "authorized", "always"]

    def endpoint_paths(self) -> frozenset[str]:
        """The paths we serve ourselves; they are never recorded or traced."""
        paths = {self.live_path, self.ready_path, self.health_path, self.metrics_path}
        if self.drain_endpoint:
            paths.add(self.drain_path)
        return frozenset(paths)


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """How checks run and when system resources count as degraded or failing."""

    interval: float
    timeout: float
    fail_after: int
    recover_after: int
    system_checks: bool
    cpu_warning: float
    cpu_critical: float
    memory_warning: float
    memory_critical: float
    disk_warning: float
    disk_critical: float
    disk_path: str
    loop_lag_warning: float
    loop_lag_critical: float


@dataclass(frozen=True, slots=True)
class ShutdownSettings:
    """Startup and shutdown budgets, signal handling and draining."""

    shutdown_delay: float
    drain_timeout: float
    shutdown_timeout: float
    startup_timeout: float
    termination_grace_period: float | None
    handle_signals: bool
    gc_freeze: bool


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """What the HTTP metrics record and which collectors run."""

    enabled: bool
    exclude_paths: list[str]
    buckets: list[float] | None
    process_metrics: bool


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """The SQLAlchemy engine and its pool."""

    url: str | None
    pool_size: int
    max_overflow: int
    pool_timeout: float
    pool_recycle: float
    pool_pre_ping: bool
    required: bool
    critical: bool
    echo: bool
    connect_timeout: float
    pool_warmup: int
    statement_timeout: float
    idle_in_transaction_timeout: float
    pool_idle_timeout: float


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """The Redis client and its pool."""

    url: str | None
    max_connections: int
    socket_timeout: float
    connect_timeout: float
    pool_timeout: float
    retries: int
    required: bool
    critical: bool
    pool_warmup: int


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Membership, leader election and their timings."""

    name: str
    lease_ttl: float
    renew_deadline: float
    retry_period: float
    call_timeout: float
    min_replicas: int | None
    replica_timeout: float | None
    node_ttl: float
    heartbeat_interval: float
    roles: list[str]
    critical: bool


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """OpenTelemetry tracing."""

    enabled: bool
    sample_ratio: float
    flush_timeout: float
    fast_encoder: bool
    instrumentation: Literal["sentient", "opentelemetry"]


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """Log format and request ids."""

    log_format: Literal["text", "json"]
    request_ids: bool | None
    request_id_header: str


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """The LLM providers, routes and the policy their calls run under."""

    providers: dict[str, LLMProviderSettings]
    health_interval: float
    probe_generate: bool
    routes: dict[str, list[str]]
    max_concurrency: int
    queue_timeout: float
    deadline: float
    retry_attempts: int
    retry_base_delay: float
    retry_max_delay: float
    retry_after_cap: float
    retry_budget_ratio: float
    retry_budget_min_per_second: float
    breaker_failure_rate: float
    breaker_slow_call_rate: float
    breaker_slow_call_duration: float
    breaker_window_size: int
    breaker_window_seconds: float
    breaker_minimum_calls: int
    breaker_open_duration: float
    breaker_half_open_calls: int
    breaker_half_open_max_wait: float
    breaker_shared: bool
    breaker_sync_interval: float
    prices: dict[str, PriceSetting]
    prices_update_interval: float
    prices_update_url: str | None
    anthropic_max_tokens: int


@dataclass(frozen=True, slots=True)
class ResilienceSettings:
    """Named policies and the HTTP clients they guard."""

    policies: dict[str, PolicySettings]
    shared: bool
    sync_interval: float
    http_clients: dict[str, HttpClientSettings]


#: each group's attribute on SentientSettings, its class, the flat fields' prefix and renames
GROUPS: dict[str, tuple[type[Any], str, dict[str, str]]] = {
    "identity": (IdentitySettings, "", {}),
    "endpoints": (EndpointSettings, "", {}),
    "health": (HealthSettings, "health_", {}),
    "shutdown": (ShutdownSettings, "", {}),
    "metrics": (MetricsSettings, "metrics_", {}),
    "database": (DatabaseSettings, "db_", {"url": "database_url"}),
    "redis": (RedisSettings, "redis_", {}),
    "cluster": (ClusterSettings, "cluster_", {}),
    "tracing": (TracingSettings, "tracing_", {}),
    "logging": (LoggingSettings, "", {}),
    "llm": (LLMSettings, "llm_", {}),
    "resilience": (ResilienceSettings, "resilience_", {}),
}


@cache
def flat_names(group: str, known: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """``(group field, flat field)`` pairs: the renamed name, the prefixed one, or the same."""
    cls, prefix, renames = GROUPS[group]
    pairs = []
    for field in fields(cls):
        for flat in (renames.get(field.name), prefix + field.name, field.name):
            if flat in known:
                pairs.append((field.name, flat))
                break
        else:  # pragma: no cover - a group field with no flat field is a programming error
            msg = f"{cls.__name__}.{field.name} has no SentientSettings field"
            raise AttributeError(msg)
    return tuple(pairs)


def view(group: str, settings: SentientSettings, **resolved: Any) -> Any:
    """The frozen ``group`` slice of ``settings``, read now; ``resolved`` replaces raw values."""
    cls = GROUPS[group][0]
    known = frozenset(type(settings).model_fields)
    values = {name: getattr(settings, flat) for name, flat in flat_names(group, known)}
    return cls(**(values | resolved))
