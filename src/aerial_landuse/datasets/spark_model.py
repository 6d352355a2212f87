"""``SparkModelDataset``: a trained Spark ML PipelineModel plus ``model.json`` (labels, network, params).

Spark ML's own writer (``model.write().save(path)``) runs its writes as Spark tasks on the
executors, so on a cluster the files land on whichever worker ran them unless ``path`` is on a
filesystem every node mounts through Hadoop. This dataset keeps the model off the executors: the
driver serializes the fitted PipelineModel with Spark's own Java serialization (the form in which
Spark ships models to executors for every ``transform``) and writes the bytes through fsspec, to
local disk or any object store, and reads them back the same way. The bytes are tied to the Spark
version, which ``model.json`` records; loading under another version says so.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from pyspark import SparkContext
from pyspark.ml import PipelineModel

from aerial_landuse.core.classifiers.trained import TrainedModel
from aerial_landuse.core.contracts import train_command
from aerial_landuse.storage import storage_location
from aerial_landuse.storage.atomic import complete_version, read_one_version, writing_folder

from .missing import MissingInputError

MODEL_FILE = "spark_model.bin"
RECORD_FILE = "model.json"
FORMAT = "spark-java-serialized"


def _spark_context() -> SparkContext:
    context = SparkContext._active_spark_context
    if context is None:
        raise DatasetError("A trained model is loaded and saved in a running SparkSession.")
    return context


def serialize_pipeline(pipeline: PipelineModel) -> bytes:
    """The fitted PipelineModel as bytes, on the driver (no Spark job, no executor involved)."""
    context = _spark_context()
    return bytes(context._jvm.org.apache.spark.util.Utils.serialize(pipeline._to_java()))  # type: ignore[union-attr]


def deserialize_pipeline(data: bytes) -> PipelineModel:
    """Bytes from ``serialize_pipeline`` back to a PipelineModel, with Spark's class loader (so
    SynapseML's classes from spark.jars resolve too)."""
    jvm = _spark_context()._jvm
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()  # type: ignore[union-attr]
    java_model = jvm.org.apache.spark.util.Utils.deserialize(bytearray(data), loader)  # type: ignore[union-attr]
    return PipelineModel._from_java(java_model)


def missing_model_message(uri: str, dataset: str | None = None) -> str:
    """No model at ``uri`` (``.../<model name>``): the command that trains it."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return (
        f"No trained model '{name}' at {uri}. Train it first: `{train_command(name, dataset)}` "
        "(on the features of its network, which `kedro run` makes), or pick an existing one with "
        "`--params model_name=<name>`."
    )


class SparkModelDataset(AbstractDataset[TrainedModel, TrainedModel]):
    """A folder ``<path>/`` holding ``spark_model.bin`` and ``model.json``, on any fsspec storage."""

    def __init__(
        self,
        path: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._storage, self._path = storage_location(path, credentials, fs_args)
        self._fs = self._storage.fs
        self.metadata = metadata

    def load(self) -> TrainedModel:
        record, model_bytes = self._read_one_version()
        pipeline = self._pipeline(record, model_bytes)
        return TrainedModel(pipeline, list(record["labels"]), record["info"])

    def _read_one_version(self) -> tuple[dict[str, Any], bytes]:
        """``model.json`` and the model bytes of one version, the bytes checked against the
        SHA-256 the record holds."""

        def read(folder: str) -> tuple[dict[str, Any], bytes]:
            record = json.loads(self._fs.cat_file(f"{folder}/{RECORD_FILE}"))
            return record, self._fs.cat_file(f"{folder}/{MODEL_FILE}")

        found = read_one_version(self._fs, self._path, read)
        if found is None:
            raise MissingInputError(missing_model_message(self._storage.uri(self._path)))
        record, model_bytes = found
        if hashlib.sha256(model_bytes).hexdigest() != record.get("sha256"):
            raise DatasetError(
                f"{self._storage.uri(self._path)}/{MODEL_FILE} does not match the SHA-256 in its "
                f"{RECORD_FILE}: the model was changed outside this project. Train it again "
                "(`kedro run --pipelines=train,evaluate`)."
            )
        return record, model_bytes

    def _pipeline(self, record: dict[str, Any], model_bytes: bytes) -> PipelineModel:
        # SynapseML's stages (LightGBM) map back to their Python classes only with its patch of
        # JavaParams._from_java loaded; a fresh session (score only) has not imported it yet.
        import synapse.ml.core.serialize.java_params_patch  # noqa: F401

        running = _spark_context().version
        if record.get("spark_version") != running:
            raise DatasetError(
                f"The model at {self._storage.uri(self._path)} was saved by Spark "
                f"{record.get('spark_version')}; this is Spark {running}. Train it again here "
                "(`kedro run --pipelines=train,evaluate`)."
            )
        return deserialize_pipeline(model_bytes)

    def save(self, data: TrainedModel) -> None:
        model_bytes = serialize_pipeline(data.pipeline)
        record = {
            "format": FORMAT,
            "sha256": hashlib.sha256(model_bytes).hexdigest(),
            "spark_version": _spark_context().version,
            "labels": data.labels,
            "info": data.info,
        }
        with writing_folder(self._fs, self._path) as staging:  # the old model stays till then
            self._fs.pipe_file(f"{staging}/{MODEL_FILE}", model_bytes)
            self._fs.pipe_file(
                f"{staging}/{RECORD_FILE}", json.dumps(record, indent=2, default=str).encode()
            )

    def _exists(self) -> bool:
        return complete_version(self._fs, self._path) is not None

    def _describe(self) -> dict[str, Any]:
        return {"path": self._storage.uri(self._path)}
