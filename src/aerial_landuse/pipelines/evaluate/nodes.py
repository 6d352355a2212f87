"""Evaluate nodes: test-set predictions and classification metrics."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from aerial_landuse.core.classifiers.trained import TrainedModel, usable_features
from aerial_landuse.core.contracts import DATASET_PARAM
from aerial_landuse.storage import TileFolder

logger = logging.getLogger(__name__)


def predict_test_tiles(
    model: TrainedModel, labelled_features: DataFrame, labelled_split: pd.DataFrame
) -> DataFrame:
    """Test tiles of the split with their true label and the model's ``pred_label`` (cached:
    metrics and the CSV both read it, the model runs once)."""
    test_features = usable_features(labelled_features, "test", labelled_split)
    predicted = model.predict(test_features).withColumn(
        "confidence", F.array_max(vector_to_array("probability"))
    )
    return predicted.select("id", "path", "label", "pred_label", "confidence").persist()


def label_pair_counts(predictions: DataFrame) -> pd.DataFrame:
    """(label, pred_label, count) of the test predictions: one small collect."""
    return predictions.groupBy("label", "pred_label").count().toPandas()


def confusion_matrix(counts: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """``label_pair_counts`` with true classes as rows and predicted classes as columns:
    ``labels`` are the model's classes, then any test class the model never learned."""
    position = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for label, predicted, count in counts[["label", "pred_label", "count"]].itertuples(index=False):
        matrix[position[label], position[predicted]] += int(count)
    return matrix


def _classes_of_test(model: TrainedModel, counts: pd.DataFrame) -> list[str]:
    """The model's classes, then the test classes it has no train tile of (a spatial split can
    put all of a rare class's blocks on the test side): counted, as errors, and said."""
    unlearned = sorted(set(counts["label"]) - set(model.labels))
    if unlearned:
        logger.warning(
            "The test tiles hold %s, which the model has no train tile of: counted as errors "
            "(recall 0). With a labelled raster set, lower ingest.land_cover.split_block_cells "
            "or add imagery where the class occurs, so that its cells fall on both sides.",
            ", ".join(unlearned),
        )
    return [*model.labels, *unlearned]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(
        numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0
    )


def metrics_from_confusion(matrix: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted F1 and per-class precision, recall, F1, support.

    Recall of a class is its correctly predicted tiles over all tiles that truly belong to it
    (row sums); precision divides by all tiles predicted as it (column sums).
    """
    true_positive = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _ratio(true_positive, predicted)
    recall = _ratio(true_positive, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    total = int(matrix.sum())
    present = support > 0
    return {
        "n_test": total,
        "accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / total) if total else 0.0,
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion_matrix": {
            "labels": labels,
            "rows": "true label",
            "columns": "predicted label",
            "counts": matrix.tolist(),
        },
    }


def evaluate_model(model: TrainedModel, test_predictions: DataFrame) -> dict[str, Any]:
    """Metrics of ``model`` on the test predictions, with the model's identity."""
    counts = label_pair_counts(test_predictions)
    labels = _classes_of_test(model, counts)
    metrics = metrics_from_confusion(confusion_matrix(counts, labels), labels)
    metrics["unlearned_classes"] = labels[len(model.labels) :]
    metrics["model"] = {
        k: model.info[k]
        for k in ("model_name", "pretrained_model", "classifier", "hyperparameters")
    }
    logger.info(
        "Model %s: test accuracy %.3f, macro F1 %.3f on %d tiles",
        model.name,
        metrics["accuracy"],
        metrics["macro_f1"],
        metrics["n_test"],
    )
    return metrics


def tabulate_test_predictions(test_predictions: DataFrame) -> pd.DataFrame:
    """Test predictions as the original scenario wrote them, filepath,label,pred_label, then the
    tile id and the model's confidence."""
    return (
        test_predictions.select(
            F.col("path").alias("filepath"), "label", "pred_label", "id", "confidence"
        )
        .orderBy("filepath")
        .toPandas()
    )


def _test_tiles_source(test_tiles: TileFolder, params: dict[str, Any], cells: bool) -> str:
    if cells:
        return "spatial blocks of train_tiles' cells (ingest.land_cover)"
    if params["test_fraction"] is not None:
        return "split from train_tiles"
    return test_tiles.storage.uri(test_tiles.root)


def tracking_record(
    metrics: dict[str, Any],
    split_summary: dict[str, Any],
    train_tiles: TileFolder,
    test_tiles: TileFolder,
    params: dict[str, Any],
    dataset: str,
    labelled_region: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the MLflow run records beyond node parameters: (metrics, parameters).

    Metrics: accuracy, macro F1, per-class F1. Parameters: the data set's name, where its tiles
    came from, and how many tiles per split and class the model was trained and tested on.
    """
    tracked = {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "weighted_f1": metrics["weighted_f1"],
    }
    tracked.update({f"f1.{label}": row["f1"] for label, row in metrics["per_class"].items()})
    record: dict[str, Any] = {
        DATASET_PARAM: dataset,
        "data.train_tiles": train_tiles.storage.uri(train_tiles.root),
        "data.test_tiles": _test_tiles_source(test_tiles, params, bool(labelled_region)),
    }
    for split, row in split_summary.items():
        record[f"tiles.{split}"] = row["used"]
        for label, count in row["per_class_used"].items():
            record[f"tiles.{split}.{label}"] = count
    return {k: {"value": float(v), "step": 0} for k, v in tracked.items()}, record
