"""Run history: `best` picks the better model; the MLflow UI serves its page on localhost."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import mlflow
import pytest
from kedro.io import DatasetError

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.datasets import MlflowRunsDataset, ModelChoiceDataset, SparkModelDataset
from aerial_landuse.datasets.mlflow_runs import choose_model
from aerial_landuse.pipelines.compare.nodes import leaderboard
from aerial_landuse.tools.processes import free_port, group_alive, stop_groups
from tests.conftest import parameters
from tests.pipelines.train.test_nodes import clustered_features, params, train

EXPERIMENT = "aerial-landuse"  # conf/base/globals.yml


def _log_run(name: str, accuracy: float) -> str:
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params(
            {
                "train.model_name": name,
                "train.classifier": name.split("_", 1)[1],
                "train.pretrained_model": "efficientnet_lite0",
            }
        )
        mlflow.log_metrics({"accuracy": accuracy, "macro_f1": accuracy - 0.01})
        return run.info.run_id


def test_best_picks_the_top_run_and_records_it(spark, tracking, tmp_path):
    root = tmp_path / "trained"
    for classifier in ("logistic_regression", "random_forest"):
        model = train(
            clustered_features(spark, 10), {**params(classifier), "model_name": f"m_{classifier}"}
        )
        SparkModelDataset(path=str(root / f"m_{classifier}")).save(model)
    _log_run("m_logistic_regression", 0.81)
    best_run = _log_run("m_random_forest", 0.93)

    chosen = ModelChoiceDataset(path=str(root), model_name="best", experiment=EXPERIMENT).load()
    assert chosen.name == "m_random_forest" and chosen.info["mlflow_run_id"] == best_run
    assert chosen.info["chosen_as"] == "best" and chosen.info[
        "chosen_metric_value"
    ] == pytest.approx(0.93)

    by_f1 = ModelChoiceDataset(
        path=str(root), model_name="best", experiment=EXPERIMENT, metric="macro_f1"
    ).load()
    assert by_f1.name == "m_random_forest"
    named = ModelChoiceDataset(
        path=str(root), model_name="m_logistic_regression", experiment=EXPERIMENT
    ).load()
    assert named.name == "m_logistic_regression" and named.info["mlflow_run_id"] is not None

    with mlflow.start_run(run_name="not evaluated"):
        mlflow.log_params({"train.model_name": "m_unevaluated"})
    table = leaderboard(MlflowRunsDataset(EXPERIMENT).load(), parameters("compare"))
    assert table["model_name"].tolist() == ["m_random_forest", "m_logistic_regression"]
    assert table["rank"].tolist() == [1, 2]


def test_a_run_that_names_a_path_is_never_chosen_as_best(tracking, tmp_path):
    _log_run("m_logistic_regression", 0.81)
    planted = _log_run("../../../../elsewhere/x_random_forest", 0.99)  # anyone who can log runs
    with pytest.raises(UserInputError, match=f"{planted}.*not a plain name") as refused:
        choose_model("best", EXPERIMENT)  # what the ChosenModel hook asks before the catalog
    assert "mlflow runs delete" in str(refused.value)
    with pytest.raises(DatasetError, match=f"{planted}.*not a plain name"):
        ModelChoiceDataset(path=str(tmp_path), model_name="best", experiment=EXPERIMENT).load()
    with pytest.raises(DatasetError, match="not a plain name"):
        ModelChoiceDataset(
            path=str(tmp_path), model_name="x", chosen="../y", experiment=EXPERIMENT
        ).load()


def test_best_without_history_says_what_to_do(tracking, tmp_path):
    with pytest.raises(Exception, match="train and evaluate models first"):
        ModelChoiceDataset(path=str(tmp_path), model_name="best", experiment=EXPERIMENT).load()


def test_mlflow_ui_serves_its_page_on_localhost(tracking, tmp_path):
    _log_run("m_lightgbm", 0.9)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "ui",
            "--backend-store-uri",
            tracking,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the UI's workers outlive their parent: stop the whole group
    )
    try:
        deadline, page = time.monotonic() + 300, ""
        while time.monotonic() < deadline and not page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(1)
        assert "MLflow" in page
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=aerial-landuse",
            timeout=60,
        ) as response:
            assert b"aerial-landuse" in response.read()
    finally:
        stop_groups([server.pid])
        assert not group_alive(server.pid)
