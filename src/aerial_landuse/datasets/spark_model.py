"""``SparkModelDataset``: a Spark ML PipelineModel plus ``model.json`` (labels, network, params)."""

from __future__ import annotations

import json
import tempfile
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from pyspark.ml import PipelineModel

from aerial_landuse.model import TrainedModel
from aerial_landuse.tiles import storage_location

SPARK_MODEL_DIR = "spark_model"
RECORD_FILE = "model.json"


class SparkModelDataset(AbstractDataset[TrainedModel, TrainedModel]):
    """A folder ``<path>`` holding ``spark_model/`` (Spark's own format) and ``model.json``.

    On local disk Spark writes the model in place. On object storage (``abfs://`` ...) Spark would
    need hadoop-azure, which cannot talk to Azurite: the model (small: coefficients or trees) is
    written to a temporary local folder and copied with fsspec, and read back the same way.
    """

    def __init__(
        self,
        path: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        reader, self._path = storage_location(path, credentials, fs_args)
        self._protocol = reader.protocol
        self._fs = reader.fs
        self.metadata = metadata

    @property
    def _local(self) -> bool:
        return self._protocol == "file"

    def load(self) -> TrainedModel:
        record_path = f"{self._path}/{RECORD_FILE}"
        if not self._fs.exists(record_path):
            name = self._path.rsplit("/", 1)[-1]
            raise DatasetError(
                f"No trained model at {self._describe()['path']}. Train it first: "
                f"`kedro run --pipelines=train --params model_name={name}`, or pick an existing one "
                "with `--params model_name=<name>`."
            )
        record = json.loads(self._fs.cat_file(record_path))
        if self._local:
            pipeline = PipelineModel.load(f"{self._path}/{SPARK_MODEL_DIR}")
        else:
            with tempfile.TemporaryDirectory(prefix="aerial-model-") as tmp:
                self._fs.get(
                    f"{self._path}/{SPARK_MODEL_DIR}", f"{tmp}/{SPARK_MODEL_DIR}", recursive=True
                )
                pipeline = PipelineModel.load(f"{tmp}/{SPARK_MODEL_DIR}")
        return TrainedModel(pipeline, list(record["labels"]), record["info"])

    def save(self, data: TrainedModel) -> None:
        if self._local:
            data.pipeline.write().overwrite().save(f"{self._path}/{SPARK_MODEL_DIR}")
        else:
            with tempfile.TemporaryDirectory(prefix="aerial-model-") as tmp:
                data.pipeline.write().overwrite().save(f"{tmp}/{SPARK_MODEL_DIR}")
                if self._fs.exists(f"{self._path}/{SPARK_MODEL_DIR}"):
                    self._fs.rm(f"{self._path}/{SPARK_MODEL_DIR}", recursive=True)
                self._fs.put(
                    f"{tmp}/{SPARK_MODEL_DIR}", f"{self._path}/{SPARK_MODEL_DIR}", recursive=True
                )
        record = {"labels": data.labels, "info": data.info}
        self._fs.pipe_file(
            f"{self._path}/{RECORD_FILE}", json.dumps(record, indent=2, default=str).encode()
        )

    def _exists(self) -> bool:
        return self._fs.exists(f"{self._path}/{RECORD_FILE}")

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path if self._local else f"{self._protocol}://{self._path}"}
