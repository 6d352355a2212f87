"""A saved classifier reaches the open MLflow run as an MLflow model that MLflow reads back."""

import json

import mlflow
import numpy as np
import pytest

from aerial_landuse.datasets import SparkModelDataset
from tests.pipelines.train.test_nodes import LABELS, clustered_features, params, train


def _save_in_a_run(spark, tmp_path, classifier):
    network = tmp_path / "networks" / "efficientnet_lite0.onnx"
    network.parent.mkdir()
    network.write_bytes(b"the network's bytes")
    model = train(clustered_features(spark), params(classifier))
    dataset = SparkModelDataset(path=str(tmp_path / "m"), network=str(network))
    with mlflow.start_run() as run:
        dataset.save(model)
    return model, f"runs:/{run.info.run_id}/classifier", network.read_bytes()


def _logged_files(uri, tmp_path):
    return mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "got"))


@pytest.mark.parametrize("classifier", ["logistic_regression", "random_forest"])
def test_a_spark_ml_model_is_logged_with_the_spark_flavor(spark, tmp_path, tracking, classifier):
    model, logged, network = _save_in_a_run(spark, tmp_path, classifier)
    folder = _logged_files(logged, tmp_path)
    record = json.loads((tmp_path / "m" / "model.json").read_text())
    assert json.loads(open(f"{folder}/model.json").read()) == record
    assert open(f"{folder}/network/efficientnet_lite0.onnx", "rb").read() == network
    metadata = mlflow.models.get_model_info(logged).metadata
    assert metadata["labels"] == LABELS and metadata["files"] == record["files"]
    assert record["info"]["mlflow_run_id"] == logged.split("/")[1]  # the run that trained it
    reloaded = mlflow.spark.load_model(logged)
    features = clustered_features(spark, 4)
    assert [r["pred_label"] for r in reloaded.transform(features).orderBy("id").collect()] == [
        r["pred_label"] for r in model.predict(features).orderBy("id").collect()
    ]


def test_a_lightgbm_model_is_logged_as_lightgbm_text(spark, tmp_path, tracking):
    model, logged, network = _save_in_a_run(spark, tmp_path, "lightgbm")
    folder = _logged_files(logged, tmp_path)
    assert open(f"{folder}/network/efficientnet_lite0.onnx", "rb").read() == network
    assert "pickle" not in open(f"{folder}/MLmodel").read()
    booster = mlflow.lightgbm.load_model(logged)
    rows = clustered_features(spark, 4).orderBy("id").collect()
    features = np.array([r["features"].toArray() for r in rows])
    expected = [
        r["pred_label"] for r in model.predict(clustered_features(spark, 4)).orderBy("id").collect()
    ]
    assert [LABELS[i] for i in booster.predict(features).argmax(axis=1)] == expected


def test_without_a_run_no_run_is_started(spark, tmp_path, tracking):
    SparkModelDataset(path=str(tmp_path / "m")).save(
        train(clustered_features(spark), params("logistic_regression"))
    )
    assert mlflow.search_runs(search_all_experiments=True, output_format="list") == []
