"""Score nodes: apply a trained model to the featurized score tiles."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from aerial_landuse.core.classifiers.trained import TrainedModel, usable_features
from aerial_landuse.core.contracts import BOUND_COLUMNS, classes_of, probability_column
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.geometry.grid import smooth_probabilities
from aerial_landuse.core.tiles.cog import CogLayer, class_layer, probability_layer
from aerial_landuse.core.tiles.raster_region import RasterRegion, cell_position
from aerial_landuse.reporting.maps import class_colours

logger = logging.getLogger(__name__)


def score_tiles(
    model: TrainedModel, score_features: DataFrame, params: dict[str, Any]
) -> tuple[DataFrame, dict[str, Any]]:
    """(per tile: filename, bounds, ``pred_label``, one probability column per class, the same
    smoothed over the tile's grid neighbourhood (``smoothed_label``..., ``score.smoothing``;
    radius 0: as predicted), its grid cell, and the model's identity; ``scoring_record``).
    One node for both, so that the model is loaded once."""
    if model.network != params["pretrained_model"]:
        raise UserInputError(
            f"Model {model.name!r} was trained on {model.network} features but pretrained_model is "
            f"{params['pretrained_model']!r}: run with `--params pretrained_model={model.network}`."
        )
    views = int(model.info.get("tta_views", 1))
    if views != int(params["tta_views"]):
        raise UserInputError(
            f"Model {model.name!r} was trained on features averaged over {views} dihedral views "
            f"but tta is {params['tta_views']}: run with `--params tta={views}`."
        )
    predicted = model.predict(usable_features(score_features)).withColumn(
        "_p", vector_to_array("probability")
    )
    probabilities = [
        F.col("_p")[i].alias(probability_column(label)) for i, label in enumerate(model.labels)
    ]
    logger.info(
        "Scoring with model %s (%s, %s)", model.name, model.network, model.info.get("classifier")
    )
    scored = predicted.select(
        "id",
        "filename",
        F.col("path").alias("filepath"),
        *BOUND_COLUMNS,
        "pred_label",
        F.array_max("_p").alias("confidence"),
        *probabilities,
    )
    smoothing = params["smoothing"]
    smoothed = smooth_probabilities(
        scored,
        {label: probability_column(label) for label in model.labels},
        radius=int(smoothing["radius"]),
        weights=smoothing["weights"],
        sigma=float(smoothing["sigma"]),
    )
    identity = smoothed.select(
        "*",
        F.lit(model.name).alias("model_name"),
        F.lit(model.network).alias("pretrained_model"),
        F.lit(model.info.get("mlflow_run_id")).cast("string").alias("mlflow_run_id"),
    )
    return identity, scoring_record(model)


def scoring_record(model: TrainedModel) -> dict[str, Any]:
    """Which model scored the tiles: name, network, classifier, MLflow run, how it was chosen."""
    keys = (
        "model_name",
        "pretrained_model",
        "classifier",
        "hyperparameters",
        "trained_at",
        "mlflow_run_id",
        "chosen_as",
        "chosen_by",
        "chosen_metric_value",
    )
    return {key: model.info.get(key) for key in keys}


def rasterize_scores(
    score_predictions: pd.DataFrame, raster_region: dict[str, Any] | None
) -> dict[str, CogLayer]:
    """A raster region's scores as rasters of one pixel per cell in the grid's CRS:
    ``land_use`` (class codes, the report's colours and the class names in the file) and
    ``probabilities`` (one band per class); nodata where a cell was not scored. Nothing for a
    region of tiles."""
    region = RasterRegion.from_record(raster_region)
    if region is None or not len(score_predictions):
        return {}
    classes = classes_of(score_predictions)
    positions = [cell_position(cell) for cell in score_predictions["id"]]
    labels = score_predictions["pred_label"].astype(str)
    probabilities = score_predictions[[probability_column(c) for c in classes]].to_numpy(float)
    return {
        "land_use": class_layer(
            region.grid,
            [(col, row, label) for (col, row), label in zip(positions, labels, strict=True)],
            classes,
            class_colours(classes),
        ),
        "probabilities": probability_layer(
            region.grid,
            [(col, row, list(p)) for (col, row), p in zip(positions, probabilities, strict=True)],
            classes,
        ),
    }


def tabulate_score_predictions(score_predictions: pd.DataFrame) -> pd.DataFrame:
    """Predictions as CSV: filepath,pred_label first (the original scenario's columns), then
    bounds and probabilities."""
    first = ["filepath", "pred_label"]
    rest = [c for c in score_predictions.columns if c not in first]
    return score_predictions[first + rest].sort_values("filepath").reset_index(drop=True)
