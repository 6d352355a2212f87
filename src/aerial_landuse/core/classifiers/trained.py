"""A trained land-use classifier: Spark ML PipelineModel, its label list and its record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.ml.feature import IndexToString
from pyspark.ml.functions import array_to_vector
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T


def usable_features(
    featurized: DataFrame, split: str | None = None, split_table: pd.DataFrame | None = None
) -> DataFrame:
    """The tiles the network featurized (no ``error``), with ``features`` as the vector Spark ML
    reads (Parquet stores it as array<float>). With ``split``: only the tiles that
    ``split_table`` (train pipeline's split) uses for it; their ``split`` column says so."""
    rows = featurized
    if "error" in rows.columns:
        rows = rows.where(F.col("error").isNull()).drop("error")
    if split is not None:
        if split_table is None:
            raise ValueError(
                f"usable_features(split={split!r}) needs the train pipeline's split table "
                "(labelled_split): features carry the folder a tile came from, not its split."
            )
        chosen = split_table.loc[split_table["used"] & (split_table["split"] == split), ["id"]]
        ids = featurized.sparkSession.createDataFrame(chosen, "id string")
        rows = rows.join(F.broadcast(ids), "id").withColumn("split", F.lit(split))
    if isinstance(rows.schema["features"].dataType, T.ArrayType):
        rows = rows.withColumn("features", array_to_vector("features"))
    return rows


@dataclass
class TrainedModel:
    """What the train pipeline produces and evaluate/score consume: the fitted classifier (a
    Spark ML model reading ``features``, predicting a class index) and the labels of its indexes."""

    classifier: Any
    labels: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def pipeline(self) -> PipelineModel:
        """The classifier, then its class indexes as ``pred_label``."""
        decoder = IndexToString(inputCol="prediction", outputCol="pred_label", labels=self.labels)
        return PipelineModel(stages=[self.classifier, decoder])

    @property
    def name(self) -> str:
        return str(self.info.get("model_name", "unnamed"))

    def predict(self, features: DataFrame) -> DataFrame:
        """``features`` plus ``pred_label``, ``probability`` and ``prediction`` (class index)."""
        return self.pipeline.transform(features)

    @property
    def network(self) -> str:
        return str(self.info["pretrained_model"])
