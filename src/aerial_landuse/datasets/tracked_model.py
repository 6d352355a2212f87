"""A stored classifier logged to the active MLflow run as an MLflow model, with its network.

Spark ML classifiers go through MLflow's spark flavor (``mlflow.spark.load_model`` and
``mlflow.pyfunc.load_model`` read them back: a ``PipelineModel`` ending in ``pred_label``);
SynapseML LightGBM through MLflow's lightgbm flavor (LightGBM's model text, which any LightGBM
reads; SynapseML's own Spark ML format would hold a Java-serialized booster). The logged model
also holds ``model.json`` (labels, training record, SHA-256 of every stored file) and the ONNX
network whose features the classifier reads, so the model is usable from MLflow alone.

The spark flavor writes the pipeline through Spark to ``MLFLOW_DFS_TMP`` (default ``/tmp/mlflow``)
on the cluster's default Hadoop filesystem, then copies it to the driver: on a cluster whose
nodes share no default filesystem, set ``MLFLOW_DFS_TMP`` to a folder they share.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow

from aerial_landuse.core.classifiers.trained import TrainedModel

logger = logging.getLogger(__name__)

LOGGED_MODEL_NAME = "classifier"


def log_trained_model(
    model: TrainedModel, record: dict[str, Any], network: tuple[str, bytes] | None
) -> Any:
    """Log ``model`` (as stored, described by its ``model.json`` ``record``) to the active run;
    ``network`` is the ONNX file's name and bytes, or None where it is not stored."""
    metadata = _metadata(record, network)
    if record["classifier"]["format"] == "lightgbm-text":
        info = _log_lightgbm(model, metadata)
    else:
        info = _log_spark_ml(model, metadata)
    _attach_files(info, record, network)
    logger.info("Logged %s to MLflow as %s", model.name, info.model_uri)
    return info


def _metadata(record: dict[str, Any], network: tuple[str, bytes] | None) -> dict[str, Any]:
    """What a user of the MLflow model needs to feed it: the network, its features, the labels."""
    described = json.loads(json.dumps(record, default=str))
    described["network_file"] = (
        {"name": network[0], "sha256": hashlib.sha256(network[1]).hexdigest()} if network else None
    )
    return described


def _log_spark_ml(model: TrainedModel, metadata: dict[str, Any]) -> Any:
    import pyspark

    return mlflow.spark.log_model(
        model.pipeline,
        artifact_path=LOGGED_MODEL_NAME,  # the spark flavor's name for name=
        pip_requirements=[f"pyspark=={pyspark.__version__}"],
        metadata=metadata,
    )


def _log_lightgbm(model: TrainedModel, metadata: dict[str, Any]) -> Any:
    import lightgbm

    booster = lightgbm.Booster(model_str=model.classifier.getNativeModel())
    return mlflow.lightgbm.log_model(
        booster,
        name=LOGGED_MODEL_NAME,
        pip_requirements=[f"lightgbm=={lightgbm.__version__}"],
        metadata=metadata,
    )


def _attach_files(info: Any, record: dict[str, Any], network: tuple[str, bytes] | None) -> None:
    """``model.json`` and the network beside the flavor's files in the logged model (the spark
    flavor logs into the run's artifacts, the lightgbm flavor as a logged model of its own)."""
    with tempfile.TemporaryDirectory() as folder:
        extra = Path(folder)
        (extra / "model.json").write_text(json.dumps(record, indent=2, default=str))
        if network is not None:
            (extra / "network").mkdir()
            (extra / "network" / network[0]).write_bytes(network[1])
        if info.model_id:
            mlflow.MlflowClient().log_model_artifacts(info.model_id, str(extra))
        else:
            mlflow.log_artifacts(str(extra), info.artifact_path)
