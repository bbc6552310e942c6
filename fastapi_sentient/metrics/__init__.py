"""Prometheus metrics: the per-plugin registry, HTTP instruments and exposition."""

from fastapi_sentient.metrics._registry import DEFAULT_BUCKETS, Metrics, MetricSample

__all__ = ["DEFAULT_BUCKETS", "MetricSample", "Metrics"]
