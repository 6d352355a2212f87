"""A trained land-use classifier: Spark ML PipelineModel, its label list and its record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame


@dataclass
class TrainedModel:
    """What the train pipeline produces and evaluate/score consume."""

    pipeline: PipelineModel
    labels: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.info.get("model_name", "unnamed"))

    def predict(self, features: DataFrame) -> DataFrame:
        """``features`` plus ``pred_label``, ``probability`` and ``prediction`` (class index)."""
        return self.pipeline.transform(features)

    @property
    def network(self) -> str:
        return str(self.info["pretrained_model"])
