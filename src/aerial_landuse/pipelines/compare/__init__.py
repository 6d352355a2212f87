"""Compare pipeline: a leaderboard of the run history."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
