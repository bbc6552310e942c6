"""How settings and the standard OTEL_* variables shape tracing."""

from __future__ import annotations

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

from fastapi_sentient import include_plugin
from fastapi_sentient._middleware import RequestTrackingMiddleware
from fastapi_sentient.exceptions import StartupError
from fastapi_sentient.tracing._contrib import ContribServerSpanMiddleware
from fastapi_sentient.tracing._exemplars import ExemplarTrackingMiddleware
from fastapi_sentient.tracing._middleware import ServerSpanMiddleware
from fastapi_sentient.tracing._provider import build_resource, build_sampler
from tests.support.asgi import quiet_settings, running
from tests.tracing.apps import build_app
from tests.tracing.conftest import tracing_settings
from tests.tracing.otlp import OtlpReceiver


def test_resource_prefers_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over SENTIENT_* identity."""
    settings = tracing_settings(service_name="agents", environment="prod", version="1.2.3")
    ours = build_resource(settings.identity, "host:8000:1").attributes
    assert ours["service.name"] == "agents"
    assert ours["service.version"] == "1.2.3"
    assert ours["deployment.environment.name"] == "prod"
    assert ours["service.instance.id"] == "host:8000:1"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,team=ml")
    theirs = build_resource(settings.identity, "host:8000:1").attributes
    assert theirs["service.name"] == "from-otel"
    assert theirs["deployment.environment.name"] == "staging"
    assert theirs["team"] == "ml"


def test_sampler_is_parent_based_ratio_unless_otel_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Default ParentBased(ratio); OTEL_TRACES_SAMPLER hands the choice to the SDK."""
    sampler = build_sampler(0.25)
    assert sampler is not None
    assert "ParentBased" in sampler.get_description()
    assert "0.25" in sampler.get_description()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    assert build_sampler(0.25) is None
    _, sentient = _plugged()
    assert sentient.tracing is not None
    assert sentient.tracing.provider.sampler.get_description() == "AlwaysOffSampler"


def _plugged(**overrides: object) -> tuple[FastAPI, object]:
    app = FastAPI()

    @app.get("/x")
    async def x() -> dict[str, bool]:
        return {"ok": True}

    return app, include_plugin(app, tracing_settings(**overrides))


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER='zipkin' is not supported"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "use http/protobuf or grpc"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "opentelemetry-exporter-otlp-proto-grpc"),
    ],
)
async def test_bad_exporter_settings_stop_startup_with_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragment: str
) -> None:
    """An exporter we cannot build fails startup with one line naming the variable."""
    monkeypatch.setenv(variable, value)
    app, _ = _plugged()
    with pytest.raises(StartupError) as caught:
        async with LifespanManager(app):
            pass
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


async def test_tracing_off_leaves_the_plain_request_path() -> None:
    """Without tracing no span middleware is built and the tracking class is the plain one."""
    app = build_app(quiet_settings(), backends=False)
    async with running(app) as client:
        assert (await client.get("/api/v1/items/1")).status_code == 200
    stack = app.middleware_stack
    assert type(stack) is RequestTrackingMiddleware
    assert not isinstance(stack.app, ServerSpanMiddleware)


async def test_tracing_on_wraps_the_app_inside_our_tracking_middleware(
    receiver: OtlpReceiver,
) -> None:
    """Tracking middleware outermost (with exemplars), the server span middleware just inside."""
    app = build_app(tracing_settings(), backends=False)
    async with running(app) as client:
        assert (await client.get("/api/v1/items/1")).status_code == 200
    stack = app.middleware_stack
    assert type(stack) is ExemplarTrackingMiddleware
    assert isinstance(stack.app, ServerSpanMiddleware)
    # FastAPI's own spans (where it has them) would duplicate ours
    assert getattr(app, "_telemetry", {}).get("tracing", False) is False


async def test_opentelemetry_mode_puts_the_contrib_middleware_in_the_same_place(
    receiver: OtlpReceiver,
) -> None:
    """The contrib OpenTelemetryMiddleware sits inside ours, without send/receive spans."""
    app = build_app(tracing_settings(tracing_instrumentation="opentelemetry"), backends=False)
    async with running(app) as client:
        assert (await client.get("/api/v1/items/1")).status_code == 200
    stack = app.middleware_stack
    assert type(stack) is ExemplarTrackingMiddleware
    contrib = stack.app
    assert isinstance(contrib, ContribServerSpanMiddleware)
    assert isinstance(contrib.otel, OpenTelemetryMiddleware)
    assert contrib.otel.exclude_send_span and contrib.otel.exclude_receive_span
    assert getattr(app, "_telemetry", {}).get("tracing", False) is False
    excluded = contrib.otel.excluded_urls
    assert excluded.url_disabled("http://testserver/metrics")
    assert excluded.url_disabled("https://10.0.0.1:8000/live")
    assert not excluded.url_disabled("http://testserver/api/live")
    assert not excluded.url_disabled("http://testserver/live/stock")


def test_sdk_disabled_turns_tracing_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_SDK_DISABLED=true wins over SENTIENT_TRACING_ENABLED."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    _, sentient = _plugged()
    assert sentient.tracing is None


async def test_multiprocess_mode_keeps_tracing_but_drops_exemplars(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, receiver: OtlpReceiver
) -> None:
    """prometheus_client cannot store exemplars across processes: spans yes, exemplars no."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    app = build_app(tracing_settings(), backends=False)
    async with running(app) as client:
        assert (await client.get("/api/v1/items/1")).status_code == 200
    assert type(app.middleware_stack) is RequestTrackingMiddleware
    assert isinstance(app.middleware_stack.app, ServerSpanMiddleware)
    receiver.wait_for(lambda s: [x for x in s if x.kind == "SERVER"])


async def test_sdk_encoder_can_be_chosen(receiver: OtlpReceiver) -> None:
    """SENTIENT_TRACING_FAST_ENCODER=false exports through the SDK's own encoder, same spans."""
    app = build_app(tracing_settings(tracing_fast_encoder=False), backends=False)
    async with running(app) as client:
        assert (await client.get("/api/v1/items/1")).status_code == 200
    (span,) = receiver.wait_for(lambda s: [x for x in s if x.kind == "SERVER"])
    assert span.attributes["http.route"] == "/api/v1/items/{item_id}"
    processor = app.state.sentient.tracing.provider._active_span_processor._span_processors[0]
    batch = getattr(processor, "_batch_processor", processor)
    exporter = getattr(batch, "_exporter", None) or batch.span_exporter
    assert type(exporter).__name__ == "OTLPSpanExporter"


async def test_otlp_exporter_variables_apply_to_the_fast_exporter(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_COMPRESSION=gzip and _HEADERS reach the receiver through our encoder."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=blue")
    app = build_app(tracing_settings(), backends=False)
    async with running(app) as client:
        assert (await client.get("/api/v1/items/1")).status_code == 200
    (span,) = receiver.wait_for(lambda s: [x for x in s if x.kind == "SERVER"])
    assert span.attributes["http.route"] == "/api/v1/items/{item_id}"
    assert receiver.headers[-1]["content-encoding"] == "gzip"
    assert receiver.headers[-1]["x-tenant"] == "blue"
