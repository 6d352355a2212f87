"""Train nodes: a Spark ML classifier on pretrained-network features."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
from pyspark.ml.feature import StringIndexer
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from aerial_landuse.core.classifiers.synapseml import lightgbm_classifier, train_lightgbm
from aerial_landuse.core.classifiers.trained import TrainedModel, usable_features
from aerial_landuse.core.contracts import SPLIT_COLUMNS
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.spark_frames import count_by
from aerial_landuse.core.tiles.sampling import mark_sample, split_listing

logger = logging.getLogger(__name__)

LABEL_INDEX = "label_index"
SPARK_ML_CLASSIFIERS = {  # lightgbm: SynapseML's LightGBMClassifier, through TrainClassifier
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
}


def split_labelled_tiles(
    labelled_features: DataFrame,
    ingest_quarantine: pd.DataFrame,
    params: dict[str, Any],
    raster_region: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Which labelled tiles train and which test, decided now from ``params`` (ingest.*):
    ``test_fraction`` (a stratified, seeded split of the train folder; null: the folders'), or
    for the cells of a labelled raster set (``raster_region``) their spatial blocks
    (``land_cover``), ``sample_frac`` of each class's usable tiles, ``seed``. Every listed tile
    gets a split, the unreadable ones too, so that counts reconcile: listed = quarantined at
    ingest + quarantined at featurize + sampled out + used. Reads ids and labels only (no
    features, no pixels)."""
    readable = labelled_features.select(
        "id", "path", "label", F.col("split").alias("folder"), F.col("error").isNull().alias("ok")
    ).toPandas()
    readable["state"] = np.where(readable.pop("ok"), "featurized", "quarantined_featurize")
    seed = int(params["seed"])
    tiles = split_listing(readable, ingest_quarantine, params, cells=bool(raster_region))
    usable = tiles[tiles["state"] == "featurized"]
    tiles["used"] = False
    tiles.loc[usable.index, "used"] = mark_sample(
        usable, float(params["sample_frac"]), seed, by=["split", "label"]
    )
    tiles = tiles.sort_values("path").reset_index(drop=True)[SPLIT_COLUMNS]
    return tiles, split_summary(tiles)


def split_summary(tiles: pd.DataFrame) -> dict[str, Any]:
    """Per split: listed = quarantined (ingest, featurize) + sampled_out + used (raises if not)."""
    summary: dict[str, Any] = {}
    for split in ("train", "test"):
        group = tiles[tiles["split"] == split]
        featurized = group["state"] == "featurized"
        row = {
            "listed": len(group),
            "quarantined_ingest": int((group["state"] == "quarantined_ingest").sum()),
            "quarantined_featurize": int((group["state"] == "quarantined_featurize").sum()),
            "sampled_out": int((featurized & ~group["used"]).sum()),
            "used": int(group["used"].sum()),
            "per_class_used": {
                str(k): int(v) for k, v in group[group["used"]].groupby("label").size().items()
            },
        }
        if row["listed"] != sum(v for k, v in row.items() if k not in ("listed", "per_class_used")):
            raise RuntimeError(f"Tile counts do not reconcile for split {split}: {row}")
        if not row["used"]:
            raise UserInputError(
                f"No usable {split} tile: {row}. Check ingest.test_fraction and ingest.sample_frac "
                "(conf/base/parameters_ingest.yml), or the test folder."
            )
        summary[split] = row
    return summary


def build_classifier(name: str, hyperparameters: dict[str, Any]) -> Any:
    """A Spark ML classifier reading ``features`` and ``label_index``."""
    return SPARK_ML_CLASSIFIERS[name](
        featuresCol="features", labelCol=LABEL_INDEX, **hyperparameters
    )


def _fit_spark_ml(
    train_features: DataFrame, name: str, hyperparameters: dict[str, Any]
) -> tuple[Any, list[str]]:
    """Spark ML LogisticRegression or RandomForestClassifier on indexed labels (keeps probabilities)."""
    indexed, labels = _indexed(train_features)
    logger.info("Training %s on %d tiles, %d classes", name, indexed.count(), len(labels))
    fitted = build_classifier(name, hyperparameters).fit(indexed)
    indexed.unpersist()
    return fitted, labels


def _indexed(train_features: DataFrame) -> tuple[DataFrame, list[str]]:
    """The train rows with ``label_index`` (classes in alphabetical order), cached."""
    indexer = StringIndexer(
        inputCol="label", outputCol=LABEL_INDEX, stringOrderType="alphabetAsc"
    ).fit(train_features)
    return indexer.transform(train_features).cache(), list(indexer.labels)


def tuning_estimator(spark: SparkSession, name: str, hyperparameters: dict[str, Any]) -> Any:
    """The estimator a search tunes: Spark ML's, or SynapseML's LightGBMClassifier on the same
    columns (TrainClassifier indexes labels itself, so it cannot sit inside a CrossValidator)."""
    if name != "lightgbm":
        return build_classifier(name, hyperparameters)
    return lightgbm_classifier(spark, hyperparameters, featuresCol="features", labelCol=LABEL_INDEX)


def tune_classifier(
    train_features: DataFrame, name: str, hyperparameters: dict[str, Any], tuning: dict[str, Any]
) -> tuple[Any, list[str], dict[str, Any]]:
    """The classifier whose hyperparameters won a search on the train split only: every point of
    ``tuning.grids.<name>`` (over ``hyperparameters``) scored by k-fold cross-validation
    (``cross_validation``) or one held-out share (``train_validation_split``), the winner refit
    on all train tiles. Returns (model, labels, what was chosen and how it scored)."""
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit

    estimator = tuning_estimator(train_features.sparkSession, name, hyperparameters)
    grid_values = dict(tuning["grids"].get(name) or {})
    builder = ParamGridBuilder()
    for param, values in grid_values.items():
        builder.addGrid(estimator.getParam(param), list(values))
    grid = builder.build()
    evaluator = MulticlassClassificationEvaluator(labelCol=LABEL_INDEX, metricName=tuning["metric"])
    seed, method = int(tuning["seed"]), tuning["method"]
    common = {"estimator": estimator, "estimatorParamMaps": grid, "evaluator": evaluator}
    common |= {"seed": seed, "parallelism": int(tuning["parallelism"])}
    if method == "cross_validation":
        search = CrossValidator(numFolds=int(tuning["folds"]), **common)
    else:
        search = TrainValidationSplit(trainRatio=float(tuning["train_ratio"]), **common)
    indexed, labels = _indexed(train_features)
    logger.info(
        "Tuning %s on %d train tiles: %d grid points by %s (%s)",
        name,
        indexed.count(),
        len(grid),
        method,
        evaluator.getMetricName(),
    )
    fitted = search.fit(indexed)
    indexed.unpersist()
    scores = list(fitted.avgMetrics if method == "cross_validation" else fitted.validationMetrics)
    best = int(np.argmax(scores) if evaluator.isLargerBetter() else np.argmin(scores))
    chosen = {p.name: _plain(v) for p, v in grid[best].items()} if grid else {}
    record = {
        "preset": "tuned",
        "method": method,
        "metric": evaluator.getMetricName(),
        "grid_points": len(grid),
        "chosen": chosen,
        "validation_score": float(scores[best]),
        "scores": [
            {"params": {p.name: _plain(v) for p, v in point.items()}, "score": float(score)}
            for point, score in zip(grid, scores, strict=True)
        ],
    }
    logger.info("Chose %s (%s %.4f)", chosen, record["metric"], record["validation_score"])
    return fitted.bestModel, labels, record


ROWS_PER_PARTITION = 5_000  # a fit's task per 5,000 train rows (~50 MB of vectors)
MAX_TRAINING_PARTITIONS = 8


def in_training_partitions(frame: DataFrame) -> DataFrame:
    """The train rows in partitions and an order that depend on the rows alone (their number and
    ids), so that a search's seeded folds (``rand(seed)`` per row) and a forest's or LightGBM's
    fit are the same on a laptop and on a cluster. One partition per ``ROWS_PER_PARTITION`` rows:
    every iteration of a fit is a Spark job of one task per partition, and on a few hundred
    tiles 8 near-empty tasks made a search 3x slower than one."""
    partitions = min(MAX_TRAINING_PARTITIONS, max(1, -(-frame.count() // ROWS_PER_PARTITION)))
    return frame.repartition(partitions, "id").sortWithinPartitions("id")


def _plain(value: Any) -> Any:
    """A Spark param value as plain JSON (numpy and Java numbers to Python)."""
    return value.item() if hasattr(value, "item") else value


def train_classifier(
    labelled_features: DataFrame, labelled_split: pd.DataFrame, params: dict[str, Any]
) -> tuple[TrainedModel, dict[str, Any]]:
    """Fit the classifier on the train split; the saved PipelineModel maps ``features`` to
    ``pred_label``.

    LightGBM trains through SynapseML's TrainClassifier, as the seed trained. Logistic regression
    and random forest train as plain Spark ML estimators: TrainClassifier (SynapseML 1.1.0) drops
    the probability column of LogisticRegression, and scoring needs per-class probabilities.
    """
    name = params["classifier"]  # checked against CLASSIFIER_NAMES before the run (parameters.py)
    hyperparameters = dict(params["hyperparameters"].get(name) or {})
    train_features = in_training_partitions(
        usable_features(labelled_features, "train", labelled_split)
    )
    preset = params["preset"]
    tuning: dict[str, Any] = {"preset": preset}
    if preset == "tuned":
        fitted, labels, tuning = tune_classifier(
            train_features, name, hyperparameters, params["tuning"]
        )
    elif name == "lightgbm":
        fitted, labels = train_lightgbm(train_features, hyperparameters)
    else:
        fitted, labels = _fit_spark_ml(train_features, name, hyperparameters)
    info = {
        "model_name": params["model_name"],
        "pretrained_model": params["pretrained_model"],
        "tta_views": int(params["tta_views"]),
        "classifier": name,
        "hyperparameters": {**hyperparameters, **tuning.get("chosen", {})},
        "tuning": tuning,
        "train_tiles_per_class": count_by(train_features, "label"),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return TrainedModel(fitted, labels, info), tuning_params(tuning)


def tuning_params(tuning: dict[str, Any]) -> dict[str, Any]:
    """What the MLflow run records of the hyperparameter search: the preset, and with ``tuned``
    the method, the chosen values (``tuned.<param>``) and their validation score."""
    record: dict[str, Any] = {"tuning.preset": tuning["preset"]}
    if tuning["preset"] == "tuned":
        record |= {
            "tuning.method": tuning["method"],
            "tuning.metric": tuning["metric"],
            "tuning.grid_points": tuning["grid_points"],
            "tuning.validation_score": round(tuning["validation_score"], 4),
        }
        record |= {f"tuned.{k}": v for k, v in tuning["chosen"].items()}
    return record
