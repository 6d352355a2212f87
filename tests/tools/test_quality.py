"""`make quality` end to end on a small generated labelled folder: ingest, export, fine-tune with
TorchDistributor, featurize with and without TTA, tuned and seed classifiers, the leaderboard,
every combination an MLflow run and the fine-tuned network registered."""

from __future__ import annotations

import sys

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import copy_project, run_tool, write_labelled_folder

pytestmark = pytest.mark.e2e
pytest.importorskip("torch", reason="the torch extra is not installed")

# The sweep's mechanics, not the models: one epoch, one grid point on one held-out share, 50
# L-BFGS iterations (Spark runs a job per iteration: 200 of them are 6 s per fit here).
FAST = (
    "finetune.max_epochs=1,finetune.batch_size=8,train.tuning.method=train_validation_split,"
    "train.tuning.grids.logistic_regression.regParam=[0.01],"
    "train.hyperparameters.logistic_regression.maxIter=50"
)


@pytest.fixture(scope="module")
def quality(tmp_path_factory):
    base = tmp_path_factory.mktemp("quality")
    project = copy_project(base / "project")
    data = write_labelled_folder(base / "scenes", 6, ("Forest", "Developed", "Cultivated"), size=64)
    command = [
        sys.executable, "-m", "aerial_landuse.tools.quality",
        "--data", str(data), "--name", "scenes",
        "--networks", "efficientnet_lite0", "--finetune", "efficientnet_lite0",
        "--tta", "1", "2", "--classifiers", "logistic_regression", "--params", FAST,
    ]  # fmt: skip
    code, output = run_tool(command, cwd=project)
    assert code == 0, output[-12000:]
    return project, output


def test_the_leaderboard_ranks_every_combination_against_the_baseline(quality):
    project, output = quality
    folder = project / "data" / "08_reporting" / "scenes" / "quality"
    table = pd.read_csv(folder / "leaderboard.csv")
    combos = set(zip(table["network"], table["tta"], table["preset"], strict=True))
    assert combos == {
        ("efficientnet_lite0", 1, "as_given"),
        ("efficientnet_lite0", 1, "tuned"),
        ("efficientnet_lite0", 2, "tuned"),
        ("efficientnet_lite0_finetuned", 1, "tuned"),
        ("efficientnet_lite0_finetuned", 2, "tuned"),
    }
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    assert table["accuracy"].is_monotonic_decreasing
    baseline = table[(table["network"] == "efficientnet_lite0") & (table["preset"] == "as_given")]
    assert float(baseline["gain_points"].iloc[0]) == 0.0
    assert float(baseline["time_vs_baseline"].iloc[0]) == 1.0
    assert (table["ms_per_tile"] > 0).all()
    assert table.loc[table["fine_tuned"], "finetune_s"].gt(0).all()
    assert "| rank | network |" in (folder / "leaderboard.md").read_text()
    assert (folder / "leaderboard.png").stat().st_size > 10_000
    assert "Leaderboard:" in output and "finetune epoch 1/1" in output
    assert "Add type hints" not in output  # third-party warnings filtered as in `kedro` commands


def test_every_combination_is_an_mlflow_run_and_the_fine_tuned_network_is_registered(
    quality, monkeypatch
):
    project, _ = quality
    uri = f"sqlite:///{project / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # put back as it was after the test
    mlflow.set_tracking_uri(uri)
    try:
        runs = mlflow.search_runs(experiment_names=["aerial-landuse"])
        evaluated = runs[runs["metrics.accuracy"].notna()]
        assert len(evaluated) == 5
        assert set(evaluated["params.tuning.preset"]) == {"as_given", "tuned"}
        tuned = evaluated[evaluated["params.tuning.preset"] == "tuned"]
        assert (tuned["params.tuned.regParam"] == "0.01").all()
        finetuned = runs[runs["params.finetune.dataset"].notna()]
        history = MlflowClient().get_metric_history(
            finetuned["run_id"].iloc[0], "finetune.validation_accuracy"
        )
        assert [m.step for m in history] == [1]
        (version,) = MlflowClient().search_model_versions(
            "name='efficientnet_lite0_finetuned-scenes'"
        )
        assert (
            version.tags["dataset"] == "scenes"
            and version.tags["base_network"] == "efficientnet_lite0"
        )
    finally:
        mlflow.set_tracking_uri("")
