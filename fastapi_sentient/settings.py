"""Settings read from ``SENTIENT_*`` environment variables.

Every field documents itself: ``docs/configuration.md`` is generated from these
descriptions, so the text here is what operators read.  Invalid values become a
:class:`~fastapi_sentient.exceptions.ConfigurationError` with one line naming the
variable, because a crash-looping pod should say what to fix in its last log line.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from fastapi_sentient._settings_groups import (
    ClusterSettings,
    DatabaseSettings,
    EndpointSettings,
    HealthSettings,
    IdentitySettings,
    LLMSettings,
    LoggingSettings,
    MetricsSettings,
    RedisSettings,
    ResilienceSettings,
    ShutdownSettings,
    TracingSettings,
    view,
)
from fastapi_sentient._settings_input import comma_list, derive_timings, warn_unknown
from fastapi_sentient._version import __version__
from fastapi_sentient.exceptions import ConfigurationError

__all__ = [
    "ENV_PREFIX",
    "ClusterSettings",
    "DatabaseSettings",
    "EndpointSettings",
    "HealthSettings",
    "HttpClientSettings",
    "IdentitySettings",
    "LLMProviderSettings",
    "LLMSettings",
    "LoggingSettings",
    "MetricsSettings",
    "PolicySettings",
    "PriceSetting",
    "RedisSettings",
    "ResilienceSettings",
    "SentientSettings",
    "ShutdownSettings",
    "TracingSettings",
    "env_name",
    "load_settings",
]

ENV_PREFIX = "SENTIENT_"


#: A price: ``[input, output]``, ``[input, output, cache_read, cache_write]`` or those as keys,
#: USD per million tokens.
PriceSetting = list[float] | dict[Literal["input", "output", "cache_read", "cache_write"], float]


def _check_prices(prices: dict[str, PriceSetting]) -> dict[str, PriceSetting]:
    for model, price in prices.items():
        values = list(price.values()) if isinstance(price, dict) else price
        shape = not isinstance(price, dict) and not 2 <= len(price) <= 4
        keys = isinstance(price, dict) and not {"input", "output"} <= set(price)
        if shape or keys or any(v < 0 for v in values):
            msg = (
                f"price of {model!r} must be [input, output] or [input, output, cache_read, "
                "cache_write] (or an object with those keys), USD per million tokens, not negative"
            )
            raise ValueError(msg)
    return prices


def _default_shutdown_delay() -> float:
    # Inside Kubernetes the endpoint removal races the SIGTERM; a few seconds of
    # serving while unready lets kube-proxy and ingresses catch up.
    return 5.0 if os.environ.get("KUBERNETES_SERVICE_HOST") else 0.0


class LLMProviderSettings(BaseModel):
    """One LLM provider entry of ``SENTIENT_LLM_PROVIDERS``."""

    kind: Literal["openai", "anthropic"] = Field(
        description="Wire protocol: OpenAI-compatible chat completions or Anthropic messages."
    )
    base_url: str | None = Field(
        default=None,
        description="API root, e.g. https://api.openai.com/v1; defaults to the vendor's.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="API key; falls back to OPENAI_API_KEY / ANTHROPIC_API_KEY by kind.",
    )
    models: list[str] = Field(
        default_factory=list,
        description="Models this provider serves; other model names are labelled 'other'.",
    )
    max_connections: int = Field(default=20, ge=1, description="HTTP pool size.")
    max_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="LLM calls in flight to this provider at once in this process (default: "
        "max_connections); more callers wait, within their SENTIENT_LLM_DEADLINE.",
    )
    max_keepalive_connections: int = Field(default=10, ge=0, description="Idle connections kept.")
    timeout: float = Field(default=60.0, gt=0, description="Read timeout per attempt, seconds.")
    connect_timeout: float = Field(default=5.0, gt=0, description="Connect timeout, seconds.")
    pool_timeout: float = Field(
        default=5.0, gt=0, description="Longest wait for a free connection, seconds."
    )
    prices: dict[str, PriceSetting] = Field(
        default_factory=dict,
        description="USD per million tokens by model, [input, output] or [input, output, "
        "cache_read, cache_write]; overrides genai-prices for this provider.",
    )
    provider_name: str | None = Field(
        default=None,
        description="gen_ai.provider.name in spans and gen_ai_* metrics, and the genai-prices "
        "provider its prices come from (e.g. vllm, ollama, openrouter); default: kind.",
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Output token limit sent when a call gives none (Anthropic requires one); "
        "default: SENTIENT_LLM_ANTHROPIC_MAX_TOKENS for Anthropic, none for OpenAI.",
    )
    critical: bool = Field(
        default=False,
        description="Whether this provider's health check gates readiness (off: a shared "
        "provider outage must not take every replica out of the load balancer).",
    )
    keepalive_expiry: float = Field(
        default=30.0, gt=0, description="Idle connections older than this are closed, seconds."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra headers sent with every request."
    )
    anthropic_version: str = Field(
        default="2023-06-01", description="anthropic-version header (Anthropic only)."
    )
    health_path: str = Field(
        default="models",
        description="Path of the free health probe under base_url (GET; never a billed call).",
    )
    warmup: int = Field(
        default=2,
        ge=0,
        description="Connections opened before readiness (that many concurrent GETs of "
        "health_path, so DNS, TCP and TLS are paid before the first call); at most "
        "max_keepalive_connections, bounded by twice connect_timeout; a failure only logs. 0 = off.",
    )

    _prices = field_validator("prices")(_check_prices)

    @model_validator(mode="after")
    def _check_headers(self) -> LLMProviderSettings:
        from fastapi_sentient._settings_checks import check_headers, joined

        line = joined(check_headers(self.headers, "extra"))
        if line is not None:
            raise ValueError(line)
        return self


class PolicySettings(BaseModel):
    """One resilience policy: breaker, retries and budget, deadline and concurrency limit."""

    model_config = ConfigDict(extra="forbid")

    breaker: bool = Field(default=True, description="Whether the policy has a circuit breaker.")
    failure_rate: float = Field(
        default=0.5, gt=0, le=1, description="Failure rate over the window that opens the breaker."
    )
    slow_call_rate: float = Field(
        default=1.0, gt=0, le=1, description="Slow-call rate over the window that opens it."
    )
    slow_call_duration: float = Field(
        default=10.0, gt=0, description="A call slower than this counts as slow, seconds."
    )
    window_size: int = Field(default=20, ge=1, description="Calls in the breaker's window.")
    window_seconds: float = Field(
        default=60.0, gt=0, description="Oldest sample the window keeps, seconds."
    )
    minimum_calls: int = Field(
        default=10, ge=1, description="Calls in the window before the breaker may open."
    )
    open_duration: float = Field(
        default=30.0, gt=0, description="Time an open breaker rejects calls, seconds."
    )
    half_open_calls: int = Field(
        default=1, ge=1, description="Probe calls admitted once the open duration has passed."
    )
    half_open_max_wait: float = Field(
        default=60.0, gt=0, description="A probe unfinished after this counts as failed, seconds."
    )
    attempts: int = Field(
        default=3, ge=1, description="Attempts per call, the first included (1: no retry)."
    )
    base_delay: float = Field(
        default=0.2, ge=0, description="First backoff ceiling; doubles per retry, full jitter."
    )
    max_delay: float = Field(default=5.0, ge=0, description="Largest backoff, seconds.")
    retry_after_cap: float = Field(
        default=30.0,
        ge=0,
        description="Longest Retry-After honoured, seconds; a longer one is not retried.",
    )
    budget_ratio: float = Field(
        default=0.2, ge=0, description="Retries allowed as a share of calls over 10 s."
    )
    budget_min_per_second: float = Field(
        default=1.0, ge=0, description="Retries per second always allowed by the budget."
    )
    deadline: float | None = Field(
        default=30.0,
        gt=0,
        description="Total time of one call, retries and waits included, seconds (null: none).",
    )
    attempt_timeout: float | None = Field(
        default=None, gt=0, description="Time limit of one attempt, seconds (null: the deadline)."
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, description="Calls in flight at once in this process (null: no limit)."
    )
    max_wait: float = Field(
        default=0.0,
        ge=0,
        description="How long a call beyond max_concurrency waits for a slot (0: refused at once).",
    )


class HttpClientSettings(BaseModel):
    """One named client of ``SENTIENT_HTTP_CLIENTS``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="Root URL; request paths are relative to it.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers sent with every request (not secrets)."
    )
    secret_headers: dict[str, str] = Field(
        default_factory=dict,
        description="Header → name of the environment variable holding its value (API keys).",
    )
    health_path: str | None = Field(
        default=None,
        description="Path GET by the health check (2xx healthy); null: no request, breaker only.",
    )
    max_connections: int = Field(default=20, ge=1, description="HTTP pool size.")
    max_keepalive_connections: int = Field(default=10, ge=0, description="Idle connections kept.")
    keepalive_expiry: float = Field(
        default=30.0, gt=0, description="Idle connections older than this are closed, seconds."
    )
    timeout: float = Field(default=10.0, gt=0, description="Read timeout, seconds.")
    connect_timeout: float = Field(default=5.0, gt=0, description="Connect timeout, seconds.")
    pool_timeout: float = Field(
        default=5.0, gt=0, description="Longest wait for a free connection, seconds."
    )
    critical: bool = Field(
        default=False, description="Whether the client's health check gates readiness."
    )
    policy: str | PolicySettings | None = Field(
        default=None,
        description="The resilience policy of every request: a name of "
        "SENTIENT_RESILIENCE_POLICIES, or the policy's settings inline (default: the defaults).",
    )

    @model_validator(mode="after")
    def _check_headers(self) -> HttpClientSettings:
        from fastapi_sentient._settings_checks import check_headers, header_name_problem, joined

        problems = list(check_headers(self.headers, "extra"))
        for header in self.secret_headers:
            problem = header_name_problem(header)
            if problem is not None:
                problems.append(f"secret header {header!r} {problem}")
        line = joined(problems)
        if line is not None:
            raise ValueError(line)
        return self


class SentientSettings(BaseSettings):
    """Configuration of one plugin instance, read from ``SENTIENT_*`` variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        validate_default=True,
    )

    # --- identity -------------------------------------------------------------------------
    service_name: str = Field(
        default="fastapi-sentient",
        description="Service name used in metrics, traces and health reports.",
    )
    environment: str = Field(default="development", description="Deployment environment.")
    version: str = Field(default=__version__, description="Service version in health metadata.")
    region: str | None = Field(default=None, description="Region in health metadata.")
    node_id: str | None = Field(
        default=None,
        description="This process's identity in the cluster; default host:port:pid, the port read "
        "from the server (uvicorn's config, the socket the process holds under gunicorn, "
        "uvicorn --workers and hypercorn, granian's command line); set SENTIENT_PORT where it "
        "cannot be detected.",
    )
    advertise_host: str | None = Field(
        default=None,
        description="Address other nodes use to reach this one; default the host name.",
    )
    port: int | None = Field(
        default=None, ge=0, le=65535, description="Port this process serves on, if known."
    )

    # --- endpoints ------------------------------------------------------------------------
    live_path: str = Field(default="/live", description="Liveness probe path.")
    ready_path: str = Field(default="/ready", description="Readiness probe path.")
    health_path: str = Field(default="/health", description="Aggregate health report path.")
    metrics_path: str = Field(default="/metrics", description="Prometheus exposition path.")
    drain_path: str = Field(default="/drain", description="Path of the optional drain endpoint.")
    drain_endpoint: bool = Field(
        default=False,
        description="Serve GET on drain_path: start draining, answer after the shutdown delay "
        "(for a Kubernetes preStop httpGet). Only on the management port when one is set; "
        "otherwise only with the health token (startup refuses neither).",
    )
    drain_undo_after: float = Field(
        default=30.0,
        gt=0,
        description="A drain that no SIGTERM follows within this many seconds after it answered "
        "is undone: readiness returns, so a stray drain never leaves the pod out of service.",
    )
    management_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve the probes, metrics_path and drain_path on this port too, with a "
        "listener of the plugin's own; metrics and drain then leave the app port. Do not "
        "expose it in the Service.",
    )
    management_host: str = Field(
        default="0.0.0.0",
        description="Address the management listener binds (the pod IP is what kubelet and "
        "Prometheus reach).",
    )

    # --- health ---------------------------------------------------------------------------
    health_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that unlocks per-check details on the health path.",
    )
    health_details: Literal["never", "authorized", "always"] = Field(
        default="never",
        description="Who sees per-check details: never (nobody), authorized (callers with the "
        "token), always (everyone). Left unset with a token configured, it means authorized.",
    )
    health_interval: float = Field(
        default=10.0, gt=0, description="Default interval between runs of a check, seconds."
    )
    health_timeout: float = Field(
        default=2.0, gt=0, description="Default time limit of one check run, seconds."
    )
    health_fail_after: int = Field(
        default=1, ge=1, description="Consecutive failures before a check reports unhealthy."
    )
    health_recover_after: int = Field(
        default=1, ge=1, description="Consecutive successes before a failed check recovers."
    )
    system_checks: bool = Field(
        default=True, description="Register the CPU, memory, disk and event-loop-lag checks."
    )
    cpu_warning: float = Field(default=80.0, gt=0, description="CPU % that degrades health.")
    cpu_critical: float = Field(default=95.0, gt=0, description="CPU % that fails health.")
    memory_warning: float = Field(default=85.0, gt=0, description="Memory % that degrades.")
    memory_critical: float = Field(default=95.0, gt=0, description="Memory % that fails.")
    disk_warning: float = Field(default=85.0, gt=0, description="Disk use % that degrades.")
    disk_critical: float = Field(default=95.0, gt=0, description="Disk use % that fails.")
    disk_path: str = Field(default="/", description="Filesystem the disk check watches.")
    loop_lag_warning: float = Field(
        default=0.1, gt=0, description="Event-loop lag in seconds that degrades health."
    )
    loop_lag_critical: float = Field(
        default=1.0, gt=0, description="Event-loop lag in seconds that fails health."
    )

    # --- shutdown -------------------------------------------------------------------------
    shutdown_delay: float = Field(
        default_factory=_default_shutdown_delay,
        ge=0,
        description="Seconds between the first SIGTERM (readiness turns 503) and the server's "
        "own shutdown; 0 outside Kubernetes, 5 when KUBERNETES_SERVICE_HOST is set.",
    )
    drain_timeout: float = Field(
        default=30.0, ge=0, description="Longest wait for in-flight requests, seconds."
    )
    shutdown_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Default time limit of one shutdown task, seconds.",
    )
    startup_timeout: float = Field(
        default=30.0, gt=0, description="Default time limit of one startup task, seconds."
    )
    termination_grace_period: float | None = Field(
        default=None,
        gt=0,
        description="The pod's terminationGracePeriodSeconds; startup warns when the shutdown "
        "budgets add up to more.",
    )
    handle_signals: bool = Field(
        default=True,
        description="Chain the server's SIGTERM/SIGINT handling (uvicorn, gunicorn, hypercorn, "
        "granian) to drain before the server stops.",
    )
    gc_freeze: bool = Field(
        default=True,
        description="After startup, move every object then alive out of the garbage "
        "collector's reach (gc.freeze()), so later full collections walk only newer objects.",
    )

    # --- metrics --------------------------------------------------------------------------
    metrics_enabled: bool = Field(default=True, description="Serve metrics_path and record.")
    metrics_exclude_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra paths (exact, relative to the app's root_path; a comma list or JSON) "
        "that are served but not recorded; probe and metrics paths are always excluded.",
    )
    metrics_buckets: Annotated[list[float] | None, NoDecode] = Field(
        default=None,
        description="Buckets of http_request_duration_seconds (a comma list or JSON); "
        "default 5 ms … 300 s.",
    )
    process_metrics: bool = Field(
        default=True, description="Export process and platform collectors."
    )

    # --- pools ----------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL (postgresql+asyncpg://… or sqlite+aiosqlite:///…); "
        "unset means no database pool.",
    )
    db_pool_size: int = Field(default=5, ge=1, description="Connections kept open.")
    db_max_overflow: int = Field(default=10, ge=0, description="Extra connections under load.")
    db_pool_timeout: float = Field(
        default=5.0, gt=0, description="Longest wait for a free connection, seconds."
    )
    db_pool_recycle: float = Field(
        default=1800.0, gt=0, description="Connections older than this are replaced, seconds."
    )
    db_pool_pre_ping: bool = Field(default=True, description="Test a connection on checkout.")
    db_required: bool = Field(
        default=True,
        description="Startup fails when the database cannot be reached; off: start unhealthy "
        "and reconnect in the background.",
    )
    db_critical: bool = Field(default=True, description="The database check gates readiness.")
    db_echo: bool = Field(default=False, description="Log SQL statements.")
    db_connect_timeout: float = Field(
        default=5.0, gt=0, description="Time limit of opening one PostgreSQL connection, seconds."
    )
    db_pool_warmup: int = Field(
        default=1,
        ge=0,
        description="Connections opened at startup (at most db_pool_size); SQLAlchemy keeps "
        "them idle but does not maintain a minimum afterwards.",
    )
    db_statement_timeout: float = Field(
        default=30.0,
        ge=0,
        description="PostgreSQL statement_timeout, seconds: a statement running longer is "
        "cancelled by the server and the request answered 504; the driver also gives up 1 s "
        "later when the server stops answering. 0 turns both off.",
    )
    db_idle_in_transaction_timeout: float = Field(
        default=60.0,
        ge=0,
        description="PostgreSQL idle_in_transaction_session_timeout, seconds: a session left idle "
        "inside an open transaction this long is ended by the server, releasing its locks. 0 = off.",
    )
    db_pool_idle_timeout: float = Field(
        default=300.0,
        ge=0,
        description="Pooled connections idle longer than this are closed (keeping "
        "db_pool_warmup of them), seconds. 0 = never.",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://, rediss://, redis+sentinel:// or redis+cluster:// URL; unset means "
        "no Redis pool and the embedded single-node coordinator.",
    )
    redis_max_connections: int = Field(
        default=50, ge=1, description="Redis pool size (per node with Redis Cluster)."
    )
    redis_socket_timeout: float = Field(
        default=2.0, gt=0, description="Redis read/write timeout, seconds."
    )
    redis_connect_timeout: float = Field(
        default=2.0, gt=0, description="Redis connect timeout, seconds."
    )
    redis_pool_timeout: float = Field(
        default=5.0, gt=0, description="Longest wait for a free Redis connection, seconds."
    )
    redis_retries: int = Field(default=2, ge=0, description="Retries of a failed Redis command.")
    redis_required: bool = Field(
        default=True, description="Startup fails when Redis cannot be reached."
    )
    redis_critical: bool = Field(default=True, description="The Redis check gates readiness.")
    redis_pool_warmup: int = Field(
        default=1,
        ge=0,
        description="Redis connections opened at startup (at most the pool size; "
        "to each primary with Redis Cluster).",
    )

    # --- cluster --------------------------------------------------------------------------
    cluster_name: str = Field(
        default="default",
        description="Cluster group; every Redis key of a group shares one hash tag.",
    )
    lease_ttl: float = Field(
        default=15.0,
        gt=0,
        description="Leader lease duration, seconds. Lease, renew, retry and call timings left "
        "unset follow the ones set, at the default ratios 15 : 10 : 2 : 1.",
    )
    renew_deadline: float = Field(
        default=10.0,
        gt=0,
        description="A leader that cannot renew within this steps down, seconds; unset, it "
        "follows lease_ttl or retry_period when 10 would not fit them.",
    )
    retry_period: float = Field(
        default=2.0,
        gt=0,
        description="Interval between acquire/renew attempts, seconds; unset, renew_deadline / 5 "
        "when 2 would not fit it.",
    )
    cluster_call_timeout: float = Field(
        default=1.0,
        gt=0,
        description="Time limit of one coordination call to Redis, seconds; unset, half the "
        "retry_period when that is 1 or less.",
    )
    cluster_min_replicas: int | None = Field(
        default=None,
        ge=0,
        description="Replicas that must acknowledge a lease acquisition or renewal (WAIT) "
        "before it counts; unset: 1 once the primary has, or Sentinel or Cluster reports, a "
        "replica, else 0.",
    )
    cluster_replica_timeout: float | None = Field(
        default=None,
        gt=0,
        description="How long a lease write waits for replica acknowledgements, seconds; "
        "unset: half of SENTIENT_CLUSTER_CALL_TIMEOUT.",
    )
    node_ttl: float = Field(
        default=10.0,
        gt=0,
        description="A node without a heartbeat for this long is dead, seconds; unset, "
        "5 × heartbeat_interval when that is 5 or more.",
    )
    heartbeat_interval: float = Field(
        default=2.0,
        gt=0,
        description="Interval between heartbeats, seconds; unset, node_ttl / 5 when node_ttl "
        "is set below 4.",
    )
    cluster_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Roles this node advertises in its member record (a comma list or JSON).",
    )
    cluster_critical: bool = Field(default=False, description="The cluster check gates readiness.")

    # --- tracing and logs -----------------------------------------------------------------
    tracing_enabled: bool = Field(default=False, description="OpenTelemetry tracing on.")
    tracing_sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="Parent-based ratio sampler's ratio."
    )
    tracing_flush_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Longest wait at shutdown for queued spans to be exported, seconds.",
    )
    tracing_fast_encoder: bool = Field(
        default=True,
        description="Encode spans for OTLP/HTTP with our cached encoder (it reuses the bytes of "
        "repeated attributes, so it is cheaper than the SDK's); false uses the SDK's own.",
    )
    tracing_instrumentation: Literal["sentient", "opentelemetry"] = Field(
        default="sentient",
        description="What makes the server spans: sentient (our middleware, the cheaper) or "
        "opentelemetry (the middleware of opentelemetry-instrumentation-fastapi); see "
        "docs/tracing.md.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or json with trace_id, span_id and request_id."
    )
    request_ids: bool | None = Field(
        default=None,
        description="Honour an incoming request id header (or make one), echo it in the "
        "response and put it in logs; default on when log_format is json.",
    )
    request_id_header: str = Field(
        default="X-Request-ID", description="The header that carries the request id."
    )

    # --- LLM ------------------------------------------------------------------------------
    llm_providers: dict[str, LLMProviderSettings] = Field(
        default_factory=dict,
        description='JSON object: name → {"kind": "openai"|"anthropic", "base_url", "api_key", '
        '"models", "max_connections", "max_concurrency", ...} (docs/llm.md lists every key).',
    )
    llm_health_interval: float = Field(
        default=60.0, ge=1, description="Interval of the provider health probes, seconds."
    )
    llm_probe_generate: bool = Field(
        default=False,
        description="Probe providers with a billed max_tokens=1 completion instead of GET /models.",
    )
    llm_routes: dict[str, list[str]] = Field(
        default_factory=dict,
        description='JSON object: logical model → ordered "provider/model" targets; the next '
        'target serves when one fails or its breaker is open, e.g. {"chat": '
        '["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]}.',
    )
    llm_max_concurrency: int = Field(
        default=64, ge=1, description="LLM calls in flight at once in this process."
    )
    llm_queue_timeout: float = Field(
        default=10.0, gt=0, description="Longest wait for a free LLM call slot, seconds."
    )
    llm_deadline: float = Field(
        default=120.0,
        gt=0,
        description="Total time limit of one LLM call, retries and fallbacks included "
        "(streams: until the first token), seconds.",
    )
    llm_retry_attempts: int = Field(
        default=3, ge=1, description="Attempts per provider call, the first included (1: no retry)."
    )
    llm_retry_base_delay: float = Field(
        default=0.5, ge=0, description="First backoff ceiling; doubles per retry, full jitter."
    )
    llm_retry_max_delay: float = Field(default=8.0, ge=0, description="Largest backoff, seconds.")
    llm_retry_after_cap: float = Field(
        default=30.0,
        ge=0,
        description="Longest provider Retry-After honoured, seconds; a longer one fails at once.",
    )
    llm_retry_budget_ratio: float = Field(
        default=0.2, ge=0, description="Retries allowed as a share of calls over 10 s."
    )
    llm_retry_budget_min_per_second: float = Field(
        default=1.0, ge=0, description="Retries per second always allowed by the budget."
    )
    llm_breaker_failure_rate: float = Field(
        default=0.5, gt=0, le=1, description="Failure rate that opens a circuit breaker."
    )
    llm_breaker_slow_call_rate: float = Field(
        default=1.0, gt=0, le=1, description="Slow-call rate that opens a circuit breaker."
    )
    llm_breaker_slow_call_duration: float = Field(
        default=60.0, gt=0, description="A call slower than this counts as slow, seconds."
    )
    llm_breaker_window_size: int = Field(
        default=20, ge=1, description="Calls in a breaker's sliding window."
    )
    llm_breaker_window_seconds: float = Field(
        default=60.0, gt=0, description="Oldest sample a breaker's window keeps, seconds."
    )
    llm_breaker_minimum_calls: int = Field(
        default=10, ge=1, description="Calls in the window before a breaker may open."
    )
    llm_breaker_open_duration: float = Field(
        default=30.0, gt=0, description="Time an open breaker rejects calls, seconds."
    )
    llm_breaker_half_open_calls: int = Field(
        default=1, ge=1, description="Probe calls a half-open breaker admits."
    )
    llm_breaker_half_open_max_wait: float = Field(
        default=120.0, gt=0, description="A probe unfinished after this counts as failed, seconds."
    )
    llm_breaker_shared: bool = Field(
        default=True,
        description="Share breaker open/closed decisions through SENTIENT_REDIS_URL when set "
        "(fails open: without Redis each process decides alone).",
    )
    llm_breaker_sync_interval: float = Field(
        default=1.0, gt=0, description="How often shared breaker decisions are read, seconds."
    )
    # --- resilience -----------------------------------------------------------------------
    resilience_policies: dict[str, PolicySettings] = Field(
        default_factory=dict,
        description='JSON object: policy name → {"failure_rate", "minimum_calls", "open_duration", '
        '"attempts", "budget_ratio", "deadline", "max_concurrency", ...} (docs/resilience.md '
        "lists every key); used by sentient.resilience.guard(name) and named HTTP clients.",
    )
    http_clients: dict[str, HttpClientSettings] = Field(
        default_factory=dict,
        description='JSON object: name → {"base_url", "headers", "secret_headers": {header: '
        'ENV_VAR}, "health_path", "policy", "max_connections", "timeout", ...}: pooled httpx2 '
        "clients for tools and internal APIs, injected with http_client(name).",
    )
    resilience_shared: bool = Field(
        default=True,
        description="Share the policies' breaker decisions through SENTIENT_REDIS_URL when set "
        "(fails open: without Redis each process decides alone).",
    )
    resilience_sync_interval: float = Field(
        default=1.0, gt=0, description="How often shared breaker decisions are read, seconds."
    )
    llm_prices: dict[str, PriceSetting] = Field(
        default_factory=dict,
        description="USD per million tokens by model, [input, output] or [input, output, "
        "cache_read, cache_write], for every provider; provider prices win; genai-prices "
        "prices the rest.",
    )
    llm_prices_update_interval: float = Field(
        default=0.0,
        ge=0,
        description="Refresh genai-prices' price data from SENTIENT_LLM_PRICES_UPDATE_URL every "
        "this many seconds (0: off; the data shipped with the installed genai-prices is used).",
    )
    llm_prices_update_url: str | None = Field(
        default=None,
        description="Where price updates are fetched from; default: genai-prices' own data on "
        "GitHub.",
    )
    llm_anthropic_max_tokens: int = Field(
        default=4096,
        ge=1,
        description="max_tokens sent to Anthropic when a call gives none (Anthropic requires "
        "it); a provider's max_tokens wins.",
    )

    _llm_prices = field_validator("llm_prices")(_check_prices)

    @model_validator(mode="after")
    def _check_consistency(self) -> SentientSettings:
        from fastapi_sentient import _settings_checks as checks

        found = [
            *checks.check_finite(self),
            *checks.check_paths({field: getattr(self, field) for field in checks.ENDPOINT_FIELDS}),
            *checks.check_header_name(self.request_id_header, "SENTIENT_REQUEST_ID_HEADER"),
            *checks.check_ranges(
                health_interval=self.health_interval,
                shutdown_delay=self.shutdown_delay,
                drain_timeout=self.drain_timeout,
                drain_undo_after=self.drain_undo_after,
            ),
            *checks.check_drain(
                drain_endpoint=self.drain_endpoint,
                token=self.health_token is not None,
                management_port=self.management_port,
            ),
            *checks.check_management_port(self.management_port, self.port),
            *checks.check_url_password("SENTIENT_DATABASE_URL", self.database_url),
            *checks.check_url_password("SENTIENT_REDIS_URL", self.redis_url),
        ]
        line = checks.joined(found)
        if line is not None:
            raise ValueError(line)
        return self

    _lists = field_validator(
        "metrics_exclude_paths", "metrics_buckets", "cluster_roles", mode="before"
    )(comma_list)

    @model_validator(mode="after")
    def _check_timings(self) -> SentientSettings:
        timings = [
            *("lease_ttl", "renew_deadline", "retry_period", "cluster_call_timeout"),
            *("node_ttl", "heartbeat_interval"),
        ]
        derived = derive_timings({f: getattr(self, f) for f in timings}, self.model_fields_set)
        for field, value in derived.items():
            object.__setattr__(self, field, value)
        if not self.lease_ttl > self.renew_deadline:
            msg = "SENTIENT_LEASE_TTL must be greater than SENTIENT_RENEW_DEADLINE"
            raise ValueError(msg)
        if not self.renew_deadline > 1.2 * self.retry_period:
            msg = "SENTIENT_RENEW_DEADLINE must be greater than 1.2 × SENTIENT_RETRY_PERIOD"
            raise ValueError(msg)
        if not self.cluster_call_timeout < self.retry_period:
            msg = "SENTIENT_CLUSTER_CALL_TIMEOUT must be less than SENTIENT_RETRY_PERIOD"
            raise ValueError(msg)
        replica_timeout = self.cluster_replica_timeout
        if replica_timeout is not None and not replica_timeout < self.cluster_call_timeout:
            msg = "SENTIENT_CLUSTER_REPLICA_TIMEOUT must be less than SENTIENT_CLUSTER_CALL_TIMEOUT"
            raise ValueError(msg)
        if not self.node_ttl >= 2 * self.heartbeat_interval:
            # one lost heartbeat must not declare a live node dead
            msg = "SENTIENT_NODE_TTL must be at least 2 × SENTIENT_HEARTBEAT_INTERVAL"
            raise ValueError(msg)
        return self

    # --- grouped views (what the wiring hands each subsystem) -------------------------

    @property
    def identity(self) -> IdentitySettings:
        """Who this process is: names in metrics, traces, health and the cluster."""
        return cast("IdentitySettings", view("identity", self))

    @property
    def endpoints(self) -> EndpointSettings:
        """The probe, metrics and drain endpoints, and who may call them."""
        return cast("EndpointSettings", view("endpoints", self, health_details=self.details_mode()))

    @property
    def health(self) -> HealthSettings:
        """How checks run and when system resources count as degraded or failing."""
        return cast("HealthSettings", view("health", self))

    @property
    def shutdown(self) -> ShutdownSettings:
        """Startup and shutdown budgets, signal handling and draining."""
        return cast("ShutdownSettings", view("shutdown", self))

    @property
    def metrics(self) -> MetricsSettings:
        """What the HTTP metrics record and which collectors run."""
        return cast("MetricsSettings", view("metrics", self))

    @property
    def database(self) -> DatabaseSettings:
        """The SQLAlchemy engine and its pool."""
        return cast("DatabaseSettings", view("database", self))

    @property
    def redis(self) -> RedisSettings:
        """The Redis client and its pool."""
        return cast("RedisSettings", view("redis", self))

    @property
    def cluster(self) -> ClusterSettings:
        """Membership, leader election and their timings."""
        return cast("ClusterSettings", view("cluster", self))

    @property
    def tracing(self) -> TracingSettings:
        """OpenTelemetry tracing."""
        return cast("TracingSettings", view("tracing", self))

    @property
    def logging(self) -> LoggingSettings:
        """Log format and request ids."""
        return cast("LoggingSettings", view("logging", self))

    @property
    def llm(self) -> LLMSettings:
        """The LLM providers, routes and the policy their calls run under."""
        return cast("LLMSettings", view("llm", self))

    @property
    def resilience(self) -> ResilienceSettings:
        """Named policies and the HTTP clients they guard."""
        return cast("ResilienceSettings", view("resilience", self))

    def details_mode(self) -> Literal["never", "authorized", "always"]:
        """The effective detail gating: a configured token alone unlocks details for its bearer."""
        if "health_details" not in self.model_fields_set and self.health_token is not None:
            return "authorized"
        return self.health_details

    def endpoint_paths(self) -> frozenset[str]:
        """The paths we serve ourselves; they are never recorded or traced."""
        paths = {self.live_path, self.ready_path, self.health_path, self.metrics_path}
        if self.drain_endpoint:
            paths.add(self.drain_path)
        return frozenset(paths)


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    return ENV_PREFIX + field.upper()


def _describe(error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    msg = str(error.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if not loc:
        return msg
    name = env_name(loc[0])
    rest = ".".join(loc[1:])
    where = f"{name} ({rest})" if rest else name
    value = error.get("input")
    # Only a top-level scalar that cannot hold a secret is echoed: provider entries,
    # headers, URLs, keys and tokens never are, whatever shape the value has.
    shown = (
        "" if rest or _may_be_secret(loc[0]) or isinstance(value, dict | list) else f"={value!r}"
    )
    return f"{where}{shown}: {msg}"


_SECRET_PARTS = ("key", "token", "url", "secret", "password", "header", "provider", "client")


def _may_be_secret(field: str) -> bool:
    return any(part in field for part in _SECRET_PARTS)


def load_settings(**overrides: Any) -> SentientSettings:
    """Read settings from the environment, turning validation errors into one line.

    Raises:
        ConfigurationError: naming every invalid variable and the accepted form.
    """
    warn_unknown(os.environ, ENV_PREFIX, (env_name(f) for f in SentientSettings.model_fields))
    try:
        return SentientSettings(**overrides)
    except ValidationError as exc:
        line = "; ".join(_describe(err) for err in exc.errors())
        msg = f"invalid configuration: {line}"
        raise ConfigurationError(msg) from None
    except SettingsError as exc:
        # pydantic-settings could not decode a JSON variable; its value is never quoted
        field = re.search(r'field "(\w+)"', str(exc))
        name = env_name(field.group(1)) if field else "a SENTIENT_ variable"
        msg = f"invalid configuration: {name} is not valid JSON"
        raise ConfigurationError(msg) from None
