"""``SparkModelDataset``: a Spark ML PipelineModel plus ``model.json`` (labels, network, params)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fsspec
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_protocol_and_path
from pyspark.ml import PipelineModel

from aerial_landuse.model import TrainedModel

SPARK_MODEL_DIR = "spark_model"
RECORD_FILE = "model.json"


class SparkModelDataset(AbstractDataset[TrainedModel, TrainedModel]):
    """A folder ``<path>`` holding ``spark_model/`` (Spark's own format) and ``model.json``."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        protocol, stripped = get_protocol_and_path(path)
        if protocol == "file":
            stripped = str(Path(stripped).resolve())
            self._spark_path = stripped
        else:
            self._spark_path = path
        self._protocol = protocol
        self._path = stripped
        self._fs = fsspec.filesystem(
            protocol, **({"auto_mkdir": True} if protocol == "file" else {})
        )
        self.metadata = metadata

    def load(self) -> TrainedModel:
        record_path = f"{self._path}/{RECORD_FILE}"
        if not self._fs.exists(record_path):
            name = Path(self._path).name
            raise DatasetError(
                f"No trained model at {self._path}. Train it first: "
                f"`kedro run --pipelines=train --params model_name={name}`, or pick an existing one "
                "with `--params model_name=<name>` (see data/06_models/trained/)."
            )
        record = json.loads(self._fs.cat_file(record_path))
        pipeline = PipelineModel.load(f"{self._spark_path}/{SPARK_MODEL_DIR}")
        return TrainedModel(pipeline, list(record["labels"]), record["info"])

    def save(self, data: TrainedModel) -> None:
        data.pipeline.write().overwrite().save(f"{self._spark_path}/{SPARK_MODEL_DIR}")
        record = {"labels": data.labels, "info": data.info}
        with self._fs.open(f"{self._path}/{RECORD_FILE}", "w") as handle:
            json.dump(record, handle, indent=2, default=str)

    def _exists(self) -> bool:
        return self._fs.exists(f"{self._path}/{RECORD_FILE}")

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path}
