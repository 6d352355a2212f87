"""Ingest: list tiles, split and sample them, probe their headers, quarantine unreadable ones."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
