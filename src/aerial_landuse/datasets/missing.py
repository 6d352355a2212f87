"""The error of a dataset whose input is not there yet (driver side: Kedro is not on executors)."""

from __future__ import annotations

from kedro.io import DatasetError

from aerial_landuse.core.errors import UserInputError


class MissingInputError(DatasetError, UserInputError):
    """An input the run needs is not there (a trained model, an exported network, MLflow runs);
    the message names the command that makes it."""
