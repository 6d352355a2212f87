"""Train nodes: a Spark ML classifier on pretrained-network features."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
from pyspark.ml.feature import IndexToString, StringIndexer
from pyspark.sql import DataFrame

from aerial_landuse.contracts import CLASSIFIER_NAMES
from aerial_landuse.model import TrainedModel, usable_features
from aerial_landuse.spark_utils import count_by
from aerial_landuse.synapseml import train_lightgbm

logger = logging.getLogger(__name__)

LABEL_INDEX = "label_index"
SPARK_ML_CLASSIFIERS = {  # lightgbm: SynapseML's LightGBMClassifier, through TrainClassifier
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
}


def build_classifier(name: str, hyperparameters: dict[str, Any]) -> Any:
    """A Spark ML classifier reading ``features`` and ``label_index``."""
    return SPARK_ML_CLASSIFIERS[name](
        featuresCol="features", labelCol=LABEL_INDEX, **hyperparameters
    )


def _fit_spark_ml(
    train_features: DataFrame, name: str, hyperparameters: dict[str, Any]
) -> tuple[Any, list[str]]:
    """Spark ML LogisticRegression or RandomForestClassifier on indexed labels (keeps probabilities)."""
    indexer = StringIndexer(
        inputCol="label", outputCol=LABEL_INDEX, stringOrderType="alphabetAsc"
    ).fit(train_features)
    indexed = indexer.transform(train_features).cache()
    logger.info("Training %s on %d tiles, %d classes", name, indexed.count(), len(indexer.labels))
    fitted = build_classifier(name, hyperparameters).fit(indexed)
    indexed.unpersist()
    return fitted, list(indexer.labels)


def train_classifier(labelled_features: DataFrame, params: dict[str, Any]) -> TrainedModel:
    """Fit the classifier on the train split; the saved PipelineModel maps ``features`` to
    ``pred_label``.

    LightGBM trains through SynapseML's TrainClassifier, as the seed trained. Logistic regression
    and random forest train as plain Spark ML estimators: TrainClassifier (SynapseML 1.1.0) drops
    the probability column of LogisticRegression, and scoring needs per-class probabilities.
    """
    name = params["classifier"]
    if name not in CLASSIFIER_NAMES:
        raise ValueError(
            f"Unknown classifier {name!r}: choose one of {sorted(CLASSIFIER_NAMES)} (train.classifier)."
        )
    hyperparameters = dict(params["hyperparameters"].get(name) or {})
    train_features = usable_features(labelled_features, "train")
    if name == "lightgbm":
        fitted, labels = train_lightgbm(train_features, hyperparameters)
    else:
        fitted, labels = _fit_spark_ml(train_features, name, hyperparameters)
    decoder = IndexToString(inputCol="prediction", outputCol="pred_label", labels=labels)
    info = {
        "model_name": params["model_name"],
        "pretrained_model": params["pretrained_model"],
        "classifier": name,
        "hyperparameters": hyperparameters,
        "train_tiles_per_class": count_by(train_features, "label"),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return TrainedModel(PipelineModel(stages=[fitted, decoder]), labels, info)
