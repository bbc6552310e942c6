"""The package version, read by hatchling and reported in health metadata."""

__version__ = "0.1.0"
