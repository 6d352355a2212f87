"""Change pipeline: two scored regions of the same place compared tile by tile."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
