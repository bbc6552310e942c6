"""Helpers for tests that run real processes: uvicorn apps, redis-server, HTTP fakes."""
