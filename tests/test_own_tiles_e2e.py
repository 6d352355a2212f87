"""README's "Your own tiles", run as written on generated tiles: a labelled-only data set with a
name, a report without a region, a split that changes without re-featurizing, and parameters
that merge key by key."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import MODEL, REGION, ROOT, copy_project, kedro, write_labelled_folder

pytestmark = pytest.mark.e2e
PER_CLASS = 8  # six classes: 48 tiles


def readme_snippets() -> list[list[tuple[str, str]]]:
    """The code blocks of README's "Your own tiles", grouped: each group ends with a bash block."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Your own tiles", 1)[1].split("\n## ", 1)[0]
    groups, current = [], []
    for kind, body in re.findall(r"```(yaml|bash)\n(.*?)```", section, re.S):
        current.append((kind, body))
        if kind == "bash":
            groups.append(current)
            current = []
    return groups


def write_snippets(project: Path, group: list[tuple[str, str]], data: Path) -> list[str]:
    """YAML blocks into the files their first line names (``/data/`` -> ``data``); the commands."""
    commands = []
    for kind, body in group:
        if kind == "yaml":
            target = re.match(r"# (conf/\S+)", body).group(1)
            (project / target).write_text(body.replace("/data/", f"{data}/"))
        else:
            commands += [line for line in body.splitlines() if line.startswith("kedro ")]
    return commands


@pytest.fixture(scope="module")
def own(e2e_project, tmp_path_factory):
    base = tmp_path_factory.mktemp("own")
    project = copy_project(base / "project")
    data = base / "data"
    write_labelled_folder(data / "rsscn7", PER_CLASS, size=64)
    pretrained = project / "data" / "06_models" / "pretrained"
    pretrained.mkdir(parents=True)
    shutil.copy(
        e2e_project / "data" / "06_models" / "pretrained" / "efficientnet_lite0.onnx", pretrained
    )
    (command,) = write_snippets(project, readme_snippets()[0], data)
    logs = kedro(project, *shlex.split(command)[1:])
    return project, data, logs


def test_labelled_only_run_ends_with_a_report_and_one_line_about_scoring(own):
    project, _, logs = own
    assert logs.count("scoring is skipped") == 1 and "Traceback" not in logs
    out = project / "data" / "08_reporting" / "rsscn7" / MODEL / REGION
    html = (out / "report.html").read_text()
    assert 'id="no-region"' in html and "Right and wrong test tiles" in html
    assert {p.name for p in (out / "figures").iterdir()} == {
        "confusion_matrix.png",
        "class_metrics.png",
        "test_gallery.png",
    }
    metrics = json.loads(
        (project / "data" / "07_model_output" / "rsscn7" / MODEL / "metrics.json").read_text()
    )
    assert metrics["n_test"] == 6 * PER_CLASS // 2
    accounting = json.loads((out / "tile_accounting.json").read_text())
    assert set(accounting) == {"train", "test"} and accounting["test"]["featurized"] == 24
    assert not (project / "data" / "04_feature" / "demo").exists()  # kept apart by name


def test_a_changed_split_takes_effect_without_featurizing_again_and_mlflow_logs_it(own):
    project, _, _ = own
    features = (
        project / "data" / "04_feature" / "rsscn7" / "efficientnet_lite0" / "labelled.parquet"
    )
    stamp = features.stat().st_mtime
    kedro(
        project,
        "run",
        "--pipelines=train,evaluate,report",
        "--params",
        "dataset=rsscn7,ingest.test_fraction=0.25",
    )
    assert features.stat().st_mtime == stamp
    summary = json.loads(
        (project / "data" / "05_model_input" / "rsscn7" / "split_summary.json").read_text()
    )
    assert summary["test"]["used"] == 12 and summary["train"]["used"] == 36
    metrics = json.loads(
        (project / "data" / "07_model_output" / "rsscn7" / MODEL / "metrics.json").read_text()
    )
    assert metrics["n_test"] == 12
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    try:
        run = mlflow.search_runs(
            experiment_names=["aerial-landuse"], order_by=["start_time DESC"]
        ).iloc[0]
    finally:
        mlflow.set_tracking_uri("")
    assert run["params.ingest.test_fraction"] == "0.25" and run["params.tiles.test"] == "12"
    assert run["params.tiles.train"] == "36" and run["params.data.name"] == "rsscn7"


def test_a_nested_runtime_parameter_merges_with_a_local_parameter_file(own):
    project, _, _ = own
    assert (project / "conf" / "local" / "parameters_ingest.yml").exists()
    kedro(
        project,
        "run",
        "--pipelines=train",
        "--params",
        "dataset=rsscn7,classifier=random_forest,train.preset=as_given,"
        "train.hyperparameters.random_forest.maxDepth=3",
    )
    record = json.loads(
        (
            project
            / "data"
            / "06_models"
            / "trained"
            / "rsscn7"
            / "efficientnet_lite0_random_forest"
            / "model.json"
        ).read_text()
    )
    assert record["info"]["hyperparameters"]["maxDepth"] == 3
    assert record["info"]["hyperparameters"]["numTrees"] == 200  # the rest kept


def test_the_region_snippet_reads_train_test_and_region_tiles(tmp_path):
    from kedro.io import DataCatalog

    from aerial_landuse import settings

    project = copy_project(tmp_path / "project")
    data = tmp_path / "data"
    write_labelled_folder(data / "naip" / "train", 2, size=32)
    write_labelled_folder(data / "naip" / "test", 1, size=32)
    region = data / "naip" / "middlesexma2016"
    region.mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(region / "r1.png")
    pd.DataFrame(
        [("r1.png", 42.0, -71.0, 42.002, -70.997)],
        columns=["filename", "llcrnrlat", "llcrnrlon", "urcrnrlat", "urcrnrlon"],
    ).to_csv(region / "tile_summaries.csv", index=False)
    (command,) = write_snippets(project, readme_snippets()[1], data)
    assert command == "kedro run --params dataset=naip"
    loader = settings.CONFIG_LOADER_CLASS(
        str(project / "conf"), env="local", **settings.CONFIG_LOADER_ARGS
    )
    catalog = DataCatalog.from_config(loader["catalog"], loader["credentials"])
    assert len(catalog.load("train_tiles").list_tiles()) == 12
    assert len(catalog.load("test_tiles").list_tiles()) == 6
    assert list(catalog.load("score_tiles").list_tiles()["relpath"]) == ["r1.png"]
    assert catalog.load("tile_summaries")["filename"].tolist() == ["r1.png"]
    loader = settings.CONFIG_LOADER_CLASS(
        str(project / "conf"),
        env="local",
        runtime_params={"region": "middlesexma2010"},
        **settings.CONFIG_LOADER_ARGS,
    )
    other_year = DataCatalog.from_config(loader["catalog"], loader["credentials"])
    assert other_year.load("score_tiles").root.endswith("naip/middlesexma2010")
