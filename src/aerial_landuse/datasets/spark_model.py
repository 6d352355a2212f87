"""``SparkModelDataset``: a trained classifier in a standard format, plus ``model.json``.

The folder ``<path>/`` holds the classifier in its library's own format, which other tools read:

- Spark ML models (logistic regression, random forest): the whole ``PipelineModel`` (classifier,
  then its class indexes as ``pred_label``) in Spark ML's format in ``pipeline/``: plain
  ``PipelineModel.load(...)`` reads it, as MLflow's spark flavor and Databricks do. Spark's
  writer runs on the executors, so the folder is reached through Hadoop (``storage/hadoop.py``):
  local disk, or blob storage through Hadoop's WASB client.
- SynapseML LightGBM: LightGBM's own model text in ``classifier.txt`` (any LightGBM reads it),
  with its column names in ``model.json``. SynapseML's Spark ML format would hold the booster as a
  Java-serialized object, which loading would deserialize.

``model.json`` records the labels, the training record and the SHA-256 of every file; loading
checks them first. With an MLflow run open, a save also logs the model to it as an MLflow model,
with the network it reads features from (``tracked_model.py``). Spark ML instantiates the classes a folder's metadata names, so every stage's
metadata is read first and only the classes below are let through. Nothing stored is deserialized
as code (no Java serialization, no pickle).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError
from pyspark import SparkContext
from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegressionModel, RandomForestClassificationModel

from aerial_landuse.core.classifiers.trained import TrainedModel
from aerial_landuse.core.contracts import train_command
from aerial_landuse.storage import storage_location
from aerial_landuse.storage.atomic import (
    SUCCESS_FILE,
    complete_version,
    read_one_version,
    writing_folder,
)
from aerial_landuse.storage.hadoop import hadoop_credentials, hadoop_url

from .missing import MissingInputError
from .tracked_model import log_trained_model

logger = logging.getLogger(__name__)

RECORD_FILE = "model.json"
SPARK_ML_FOLDER = "pipeline"
LIGHTGBM_FILE = "classifier.txt"
SPARK_ML_FORMAT = "spark-ml"
LIGHTGBM_FORMAT = "lightgbm-text"
SPARK_ML_MODELS = {
    cls.__name__: cls for cls in (LogisticRegressionModel, RandomForestClassificationModel)
}
# The Java classes a stored pipeline's metadata may name (Spark ML instantiates what it names).
SPARK_ML_CLASSES = frozenset(
    {
        "org.apache.spark.ml.PipelineModel",
        "org.apache.spark.ml.feature.IndexToString",
        *(f"org.apache.spark.ml.classification.{name}" for name in SPARK_ML_MODELS),
    }
)
STAGE_METADATA = re.compile(r"^(stages/[^/]+/)?metadata/part-\d+$")
LIGHTGBM_MODEL = "LightGBMClassificationModel"
LIGHTGBM_COLUMNS = ("featuresCol", "predictionCol", "probabilityCol", "rawPredictionCol")


def _spark_context() -> SparkContext:
    context = SparkContext._active_spark_context
    if context is None:
        raise DatasetError("A trained model is loaded and saved in a running SparkSession.")
    return context


def missing_model_message(uri: str, dataset: str | None = None) -> str:
    """No model at ``uri`` (``.../<model name>``): the command that trains it."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return (
        f"No trained model '{name}' at {uri}. Train it first: `{train_command(name, dataset)}` "
        "(on the features of its network, which `kedro run` makes), or pick an existing one with "
        "`--params model_name=<name>`."
    )


class SparkModelDataset(AbstractDataset[TrainedModel, TrainedModel]):
    """A folder ``<path>/`` holding the classifier and ``model.json``, locally or on blob storage;
    ``network`` is the ONNX network the classifier's features come from (logged with it)."""

    def __init__(
        self,
        path: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        network: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._storage, self._path = storage_location(path, credentials, fs_args)
        self._fs = self._storage.fs
        self._network = storage_location(network, credentials, fs_args) if network else None
        self.metadata = metadata

    # ---- load ---------------------------------------------------------------------------------
    def load(self) -> TrainedModel:
        found = read_one_version(self._fs, self._path, self._load_version)
        if found is None:
            raise MissingInputError(missing_model_message(self._storage.uri(self._path)))
        return found

    def _load_version(self, folder: str) -> TrainedModel:
        record = json.loads(self._fs.cat_file(f"{folder}/{RECORD_FILE}"))
        self._check_files(folder, record.get("files") or {})
        classifier = self._read_classifier(folder, record.get("classifier") or {})
        return TrainedModel(classifier, list(record["labels"]), record["info"])

    def _check_files(self, folder: str, recorded: dict[str, str]) -> None:
        """Every file of the version as ``model.json`` recorded it, and no other."""
        found = self._files(folder)
        changed = sorted(n for n in set(found) | set(recorded) if recorded.get(n) != found.get(n))
        if not recorded or changed:
            raise DatasetError(
                f"{self._storage.uri(folder)} does not match the SHA-256 sums in its {RECORD_FILE} "
                f"({', '.join(changed[:5]) or 'no sums recorded'}): the model was changed outside "
                "this project. Train it again (`kedro run --pipelines=train,evaluate`)."
            )

    def _read_classifier(self, folder: str, stage: dict[str, Any]) -> Any:
        name, kind = stage.get("class"), stage.get("format")
        if kind == SPARK_ML_FORMAT and name in SPARK_ML_MODELS:
            return self._read_pipeline(f"{folder}/{SPARK_ML_FOLDER}").stages[0]
        if kind == LIGHTGBM_FORMAT and name == LIGHTGBM_MODEL:
            from synapse.ml.lightgbm import LightGBMClassificationModel

            text = self._fs.cat_file(f"{folder}/{LIGHTGBM_FILE}").decode()
            model = LightGBMClassificationModel.loadNativeModelFromString(text)
            for column, value in stage["columns"].items():
                model.set(model.getParam(column), str(value))
            return model
        raise DatasetError(
            f"{self._storage.uri(folder)}/{RECORD_FILE} names a classifier this project does not "
            f"load ({kind} {name}); it loads {', '.join(SPARK_ML_MODELS)} ({SPARK_ML_FORMAT}) and "
            f"{LIGHTGBM_MODEL} ({LIGHTGBM_FORMAT}). Train it again with this version."
        )

    def _read_pipeline(self, folder: str) -> PipelineModel:
        """The PipelineModel in ``folder``, once every class its metadata names is one of ours."""
        named = {
            json.loads(self._fs.cat_file(path).decode().splitlines()[0]).get("class")
            for path in self._fs.find(folder)
            if STAGE_METADATA.match(path[len(folder) :].lstrip("/"))
        }
        if not named or named - SPARK_ML_CLASSES:
            raise DatasetError(
                f"{self._storage.uri(folder)} names Spark ML classes this project does not load "
                f"({', '.join(sorted(str(c) for c in named - SPARK_ML_CLASSES)) or 'none'}). "
                "Train it again (`kedro run --pipelines=train,evaluate`)."
            )
        self._configure_hadoop()
        pipeline = PipelineModel.load(hadoop_url(self._storage, folder))
        if type(pipeline.stages[0]).__name__ not in SPARK_ML_MODELS:
            raise DatasetError(f"{self._storage.uri(folder)} does not start with a classifier.")
        return pipeline

    # ---- save ---------------------------------------------------------------------------------
    def save(self, data: TrainedModel) -> None:
        run = mlflow.active_run()  # recorded: the run that trained this version of the model
        info = {**data.info, "mlflow_run_id": run.info.run_id} if run else data.info
        with writing_folder(self._fs, self._path) as staging:  # the old model stays till then
            stage = self._write_classifier(data, staging)
            record = {
                "classifier": stage,
                "spark_version": _spark_context().version,
                "labels": data.labels,
                "info": info,
                "files": self._files(staging),
            }
            self._fs.pipe_file(
                f"{staging}/{RECORD_FILE}", json.dumps(record, indent=2, default=str).encode()
            )
        if run is not None:
            log_trained_model(data, record, self._network_file())

    def _network_file(self) -> tuple[str, bytes] | None:
        """The network's file name and bytes, or None (with a warning) where it is not stored."""
        if self._network is None:
            return None
        storage, path = self._network
        if not storage.fs.exists(path):
            logger.warning("Network %s is not stored: logged the model without it", path)
            return None
        return path.rsplit("/", 1)[-1], storage.fs.cat_file(path)

    def _write_classifier(self, model: TrainedModel, staging: str) -> dict[str, Any]:
        classifier = model.classifier
        name = type(classifier).__name__
        if name == LIGHTGBM_MODEL:
            self._fs.pipe_file(f"{staging}/{LIGHTGBM_FILE}", classifier.getNativeModel().encode())
            columns = {column: classifier.getOrDefault(column) for column in LIGHTGBM_COLUMNS}
            return {"format": LIGHTGBM_FORMAT, "class": name, "columns": columns}
        if name not in SPARK_ML_MODELS:
            raise DatasetError(
                f"Cannot store a {name}: this project stores {', '.join(SPARK_ML_MODELS)} and "
                f"{LIGHTGBM_MODEL}."
            )
        self._configure_hadoop()
        model.pipeline.write().save(hadoop_url(self._storage, f"{staging}/{SPARK_ML_FOLDER}"))
        return {"format": SPARK_ML_FORMAT, "class": name}

    # ---- shared -------------------------------------------------------------------------------
    def _files(self, folder: str) -> dict[str, str]:
        """SHA-256 of every non-empty file under ``folder`` by its path relative to it but the
        record and the version marker (empty ones carry nothing: Spark's ``_SUCCESS`` files,
        Hadoop's folder markers on blob storage)."""
        listing = self._fs.find(folder, detail=True)
        return {
            path[len(folder) :].lstrip("/"): hashlib.sha256(self._fs.cat_file(path)).hexdigest()
            for path, info in sorted(listing.items())
            if info.get("type") == "file"
            and info.get("size")
            and path[len(folder) :].lstrip("/") not in (RECORD_FILE, SUCCESS_FILE)
        }

    def _configure_hadoop(self) -> None:
        """The storage's credentials for Spark's Hadoop client (set on the driver's Hadoop
        configuration, which Spark hands to the tasks; never logged)."""
        container = self._path.partition("/")[0]
        settings = hadoop_credentials(self._storage, container)
        if settings:
            configuration = _spark_context()._jsc.hadoopConfiguration()  # type: ignore[union-attr]
            for key, value in settings.items():
                configuration.set(key, value)

    def _exists(self) -> bool:
        return complete_version(self._fs, self._path) is not None

    def _describe(self) -> dict[str, Any]:
        return {"path": self._storage.uri(self._path)}
