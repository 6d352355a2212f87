"""A tracked dataset's saves reach the MLflow run from local disk and from remote storage alike."""

import matplotlib

matplotlib.use("Agg")

import fsspec
import matplotlib.pyplot as plt
import mlflow
import pytest

from aerial_landuse.datasets import TrackedArtifactDataset


@pytest.fixture
def run(tracking):
    with mlflow.start_run() as active:
        yield active.info.run_id


def _artifacts(run_id: str, path: str | None = None) -> set[str]:
    return {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, path)}


@pytest.mark.parametrize("where", ["local", "memory"])
def test_a_saved_file_and_folder_are_logged_to_the_run(run, tmp_path, where):
    root = str(tmp_path) if where == "local" else "memory:///tracked"
    metrics = TrackedArtifactDataset({"type": "json.JSONDataset", "filepath": f"{root}/m.json"})
    metrics.save({"accuracy": 0.9})
    figure = plt.figure()
    figures = TrackedArtifactDataset(
        {"type": "matplotlib.MatplotlibDataset", "filepath": f"{root}/figures"},
        artifact_path="report",
    )
    figures.save({"curves.png": figure})
    plt.close(figure)

    assert "m.json" in _artifacts(run)
    assert _artifacts(run, "report/figures") == {"report/figures/curves.png"}
    assert metrics.load() == {"accuracy": 0.9} and metrics.exists()


def test_without_a_run_nothing_is_logged_and_the_save_still_happens(tmp_path):
    assert mlflow.active_run() is None
    dataset = TrackedArtifactDataset(
        {"type": "json.JSONDataset", "filepath": str(tmp_path / "m.json")}
    )
    dataset.save({"a": 1})
    assert dataset.load() == {"a": 1}


def test_a_dataset_without_a_place_is_refused():
    with pytest.raises(ValueError, match="file or folder dataset"):
        TrackedArtifactDataset({"type": "kedro.io.MemoryDataset"})


@pytest.mark.parametrize("where", ["local", "memory"])
def test_files_named_not_logged_stay_out_of_the_run_but_are_saved(run, tmp_path, where):
    root = str(tmp_path) if where == "local" else "memory:///not-logged"
    figures = TrackedArtifactDataset(
        {"type": "matplotlib.MatplotlibDataset", "filepath": f"{root}/figures"},
        not_logged=["gallery.png"],
    )
    chart, sheet = plt.figure(), plt.figure()
    figures.save({"chart.png": chart, "gallery.png": sheet})
    plt.close(chart)
    plt.close(sheet)
    assert _artifacts(run, "figures") == {"figures/chart.png"}
    saved = fsspec.open_files(f"{root}/figures/*.png")
    assert sorted(f.path.rsplit("/", 1)[-1] for f in saved) == ["chart.png", "gallery.png"]
