"""End to end: `kedro run` on a small demo set in a temporary copy of the project."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.browser import chromium, rendered_dom
from tests.conftest import EARLIER_REGION, MODEL, REGION, kedro, write_raster_region


@pytest.fixture(scope="module")
def project(e2e_project: Path) -> Path:
    return e2e_project


@pytest.mark.e2e
def test_kedro_run_end_to_end_on_a_small_demo_set(project):
    assert (
        project / "data" / "06_models" / "pretrained" / "efficientnet_lite0.onnx"
    ).stat().st_size > 10e6

    out = project / "data" / "08_reporting" / "demo" / MODEL / REGION
    metrics = json.loads(
        (project / "data" / "07_model_output" / "demo" / MODEL / "metrics.json").read_text()
    )
    assert metrics["n_test"] == 6 * 6 and metrics["accuracy"] > 0.6  # chance is 1/6
    accounting = json.loads((out / "tile_accounting.json").read_text())
    assert accounting["train"] == {
        "listed": 73,
        "sampled_out": 0,
        "quarantined_ingest": 1,
        "quarantined_featurize": 0,
        "featurized": 72,
        "ignored": 0,
    }
    assert accounting["test"] == {
        "listed": 37,
        "sampled_out": 0,
        "quarantined_ingest": 0,
        "quarantined_featurize": 1,
        "featurized": 36,
        "ignored": 0,
    }
    assert accounting["score"]["featurized"] == 20
    quarantine = pd.read_csv(out / "quarantine.csv")
    assert sorted(quarantine["path"].str.rsplit("/", n=1).str[-1]) == [
        "broken.png",
        "truncated.png",
    ]
    scores = pd.read_csv(
        project / "data" / "07_model_output" / "demo" / MODEL / REGION / "score_predictions.csv"
    )
    assert len(scores) == 20 and list(scores.columns[:2]) == ["filepath", "pred_label"]
    tests = pd.read_csv(
        project / "data" / "07_model_output" / "demo" / MODEL / "test_predictions.csv"
    )
    assert list(tests.columns)[:3] == ["filepath", "label", "pred_label"] and len(tests) == 36
    geojson = json.loads((out / "land_use.geojson").read_text())
    assert len(geojson["features"]) == 20
    html = (out / "report.html").read_text()
    assert "synthetic" in html and html.count("data:image/png;base64,") == 3  # charts, map
    assert html.count("data:image/jpeg;base64,") == 3  # the galleries and the review sheet
    assert 'id="smoothed-caption"' in html and re.search(r'id="mlflow-run">[0-9a-f]{32}<', html)
    assert {p.name for p in (out / "figures").iterdir()} == {
        "confusion_matrix.png",
        "class_metrics.png",
        "test_gallery.png",
        "land_use_map.png",
        "gallery.png",
        "review_sheet.png",
    }
    assert '": "' not in (out / "land_use.geojson").read_text()[:2000]  # compact
    assert "smoothed_label" in geojson["features"][0]["properties"]
    layer = gpd.read_file(out / "land_use.gpkg", layer="land_use", engine="pyogrio")
    assert len(layer) == 20 and layer.crs.to_epsg() == 4326
    assert 'attr="pred_label"' in (out / "land_use.qml").read_text()
    queue = pd.read_csv(out / "review_queue.csv")
    assert len(queue) == 20 and queue["margin"].is_monotonic_increasing
    assert 'class="tilemap"' in html and 'data-tiles="20"' in html


THIRD_PARTY_NOISE = (
    "Add type hints",
    "FastAPIDeprecationWarning",
    "UserWarning",
    "DeprecationWarning",
    "NativeCodeLoader",  # Spark's start-up notices (conf/base/log4j2.properties)
    "InstanceBuilder",
    "Truncated the string representation",  # Spark's plan strings (log4j2.properties)
)
ONCE_PER_COMMAND = "as logging configuration|No typed parameter requirements|--async flag"
LIBRARY_PRINTS = "Loaded pretrained weights|registered model|Created version"


@pytest.mark.e2e
def test_console_shows_no_warning_a_user_cannot_act_on_and_unwrapped_lines(project):
    printed = (project / "run.log").read_text()
    assert not [noise for noise in THIRD_PARTY_NOISE if noise in printed]
    lines = printed.splitlines()
    # piped output is one plain line per record: not wrapped at 80 columns, not padded
    assert any(len(line) > 120 and "Running node" in line for line in lines)
    assert not [line for line in lines if line != line.rstrip()]
    # said once per command or per pipeline, and not the user's to act on
    assert not [line for line in lines if re.search(ONCE_PER_COMMAND, line)]
    assert "Completed 1 out of" in printed  # Kedro's progress stays
    assert "[Stage " not in printed  # Spark's progress bars are for terminals
    printed_by_libraries = [line for line in lines if re.search(LIBRARY_PRINTS, line)]
    assert all(re.match(r"\d{4}-\d\d-\d\d ", line) for line in printed_by_libraries)


@pytest.mark.e2e
def test_rerun_with_only_missing_outputs_does_nothing_and_opens_no_mlflow_run(project):
    before = _mlflow_run_count(project)
    printed = kedro(project, "run", "--only-missing-outputs")
    assert "Skipping all" in printed and "no MLflow run is opened" in printed
    assert _mlflow_run_count(project) == before


def _mlflow_run_count(project: Path) -> int:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    try:
        return len(mlflow.search_runs(experiment_names=["aerial-landuse"]))
    finally:
        mlflow.set_tracking_uri("")


@pytest.mark.e2e
def test_registry_lists_the_six_pipelines(project):
    listed = kedro(project, "registry", "list")
    for name in ("ingest", "featurize", "train", "evaluate", "score", "report"):
        assert f"- {name}" in listed


@pytest.mark.e2e
def test_report_renders_in_a_real_browser(project, tmp_path):
    report = project / "data" / "08_reporting" / "demo" / MODEL / REGION / "report.html"
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--hide-scrollbars",
            "--window-size=1280,2400",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    # The land-use map's class colours (NLCD legend) show: the embedded figures decoded and drew.
    for colour in ("#1c5f2c", "#ab6c28", "#eb0000"):
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).sum(axis=1) < 12).sum() > 200, (
            f"{colour} not seen in the rendered report"
        )


@pytest.mark.e2e
def test_interactive_maps_run_in_a_real_browser(project, tmp_path):
    report = project / "data" / "08_reporting" / "demo" / MODEL / REGION / "report.html"
    dom = rendered_dom(report, tmp_path / "profile")
    assert 'data-ready="20"' in dom  # the pan/zoom script ran over the 20 tiles, no error


@pytest.mark.e2e
def test_missing_model_error_suggests_a_command_that_trains_it_on_the_same_features(project):
    """Scoring a model not trained yet says how to train it; running exactly that command trains
    another classifier on the existing features (not featurized again), and the score pipeline
    then runs alone with it."""
    model = "efficientnet_lite0_lightgbm"
    features = project / "data" / "04_feature" / "demo" / "efficientnet_lite0" / "labelled.parquet"
    stamp = features.stat().st_mtime
    score = ("run", "--pipelines=score", "--params", f"model_name={model}")
    failed = kedro(project, *score, check=False)
    assert "No trained model 'efficientnet_lite0_lightgbm'" in failed
    assert failed.count("was closed because of an error") == 1
    suggested = re.search(r"Train it first: `kedro ([^`]+)`", failed).group(1)
    assert "classifier=lightgbm" in suggested
    kedro(project, *shlex.split(suggested))
    assert features.stat().st_mtime == stamp

    metrics = json.loads(
        (project / "data" / "07_model_output" / "demo" / model / "metrics.json").read_text()
    )
    assert metrics["model"]["classifier"] == "lightgbm" and metrics["accuracy"] > 0.5
    assert (
        project / "data" / "06_models" / "trained" / "demo" / model / "classifier.txt"
    ).is_file()
    kedro(project, *score)
    scores = pd.read_csv(
        project / "data" / "07_model_output" / "demo" / model / REGION / "score_predictions.csv"
    )
    assert len(scores) == 20 and scores["model_name"].eq(model).all()


@pytest.mark.e2e
def test_the_run_is_in_mlflow_with_params_metrics_and_artifacts(project):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    try:
        runs = mlflow.search_runs(
            experiment_names=["aerial-landuse"],
            filter_string=f"params.`train.model_name` = '{MODEL}'",
        )
        run = runs.sort_values("start_time").iloc[0]  # the first, full `kedro run`
        assert run["status"] == "FINISHED" and run["tags.mlflow.runName"] == MODEL
        expected_params = {
            "train.pretrained_model": "efficientnet_lite0",
            "train.classifier": "logistic_regression",
            "train.hyperparameters.logistic_regression.regParam": "0.01",
            "ingest.sample_frac": "1.0",
            "ingest.test_fraction": "None",
            "tiles.train": "72",
            "tiles.test.Shrub": "6",
            "data.name": "demo",
        }
        for key, value in expected_params.items():
            assert run[f"params.{key}"] == value, key
        assert run["params.data.train_tiles"].endswith("data/01_raw/train")
        metrics = json.loads(
            (project / "data" / "07_model_output" / "demo" / MODEL / "metrics.json").read_text()
        )
        assert run["metrics.accuracy"] == pytest.approx(metrics["accuracy"])
        assert run["metrics.macro_f1"] == pytest.approx(metrics["macro_f1"])
        assert "metrics.f1.Forest" in run
        client = mlflow.MlflowClient()
        artifacts = {a.path for a in client.list_artifacts(run["run_id"])}
        assert {"metrics.json", "report.html", "figures", "classifier"} <= artifacts
        model = {a.path for a in client.list_artifacts(run["run_id"], "classifier")}
        assert {"classifier/MLmodel", "classifier/sparkml", "classifier/model.json"} <= model
        assert "classifier/network/efficientnet_lite0.onnx" in {
            a.path for a in client.list_artifacts(run["run_id"], "classifier/network")
        }
        flavors = mlflow.models.get_model_info(f"runs:/{run['run_id']}/classifier").flavors
        assert "spark" in flavors
        figures = {a.path for a in client.list_artifacts(run["run_id"], "figures")}
        assert "figures/confusion_matrix.png" in figures
        assert not figures & {"figures/gallery.png", "figures/test_gallery.png"}  # report.html's
    finally:
        mlflow.set_tracking_uri("")


@pytest.mark.e2e
def test_score_and_report_best_use_the_top_run_and_compare_ranks_the_runs(project):
    printed = kedro(project, "run", "--pipelines=compare")
    assert "Spark 3" not in printed  # its nodes need no Spark: none started (hooks.needs_spark)
    board = pd.read_csv(project / "data" / "08_reporting" / "leaderboard.csv")
    assert board["accuracy"].is_monotonic_decreasing and len(board) >= 2
    kedro(project, "run", "--pipelines=score,report", "--params", "model_name=best")
    top = board["model_name"].iloc[0]  # outputs go where the chosen model's own outputs are
    outputs = project / "data" / "07_model_output" / "demo" / top
    record = json.loads((outputs / REGION / "score_metadata.json").read_text())
    assert record["chosen_as"] == "best" and record["model_name"] == top
    assert record["mlflow_run_id"] == board["run_id"].iloc[0]
    scores = pd.read_csv(outputs / REGION / "score_predictions.csv")
    assert scores["mlflow_run_id"].eq(record["mlflow_run_id"]).all() and len(scores) == 20
    report = project / "data" / "08_reporting" / "demo" / top / REGION / "report.html"
    assert top in report.read_text()
    assert not (project / "data" / "07_model_output" / "demo" / "best").exists()


@pytest.mark.e2e
def test_change_between_the_demo_years_is_measured_against_the_known_changes(project):
    kedro(project, "run", "--pipelines=score", "--params", f"region={EARLIER_REGION}")
    printed = kedro(project, "run", "--pipelines=change")
    assert "Matched 20 tiles" in printed
    out = project / "data" / "08_reporting" / "demo" / MODEL / f"change_{EARLIER_REGION}_{REGION}"
    summary = json.loads((out / "change_summary.json").read_text())
    assert summary["matched"] == 20 and summary["only_before"] == summary["only_after"] == 0
    pairs = pd.read_parquet(out / "change_tiles.parquet")
    transitions = pd.read_csv(out / "transitions_tiles.csv").set_index("from")
    confident = pairs[pairs["confident"]]
    assert transitions.to_numpy().sum() == len(confident)  # counts reconcile
    assert (
        transitions.to_numpy().sum() - np.trace(transitions.to_numpy()) == summary["changed_tiles"]
    )
    km2 = pd.read_csv(out / "transitions_km2.csv").set_index("from")
    assert km2.to_numpy().sum() == pytest.approx(confident["area_km2"].sum(), rel=1e-3)
    assert pairs["area_km2"].to_numpy() == pytest.approx(0.224**2, rel=0.01)  # 224 m tiles

    raw = project / "data" / "01_raw"
    truth = [
        pd.read_csv(raw / region / "tile_summaries.csv")[["llcrnrlat", "llcrnrlon", "true_label"]]
        for region in (EARLIER_REGION, REGION)
    ]
    true_changes = int((truth[0]["true_label"] != truth[1]["true_label"]).sum())
    evaluation = json.loads((out / "change_evaluation.json").read_text())
    assert evaluation["true_changes"] == true_changes > 0
    raw = evaluation["change"]["raw"]  # a weak model (72 training tiles), 20 tiles: loose bounds
    assert raw["recall"] >= 0.5 and raw["precision"] >= 0.6, evaluation["change"]
    assert {"precision", "recall"} <= set(evaluation["change"]["smoothed"])
    assert len(evaluation["threshold_sweep"]) == 8

    geojson = json.loads((out / "changed_tiles.geojson").read_text())
    assert len(geojson["features"]) == summary["changed_tiles"]
    if geojson["features"]:
        assert {"before_label", "after_label", "after_prob_Developed"} <= set(
            geojson["features"][0]["properties"]
        )
    assert len(gpd.read_file(out / "change.gpkg", layer="change", engine="pyogrio")) == 20
    area = pd.read_csv(out / "area_statistics.csv").set_index("class")
    assert area["before_share"].sum() == pytest.approx(1) == area["after_share"].sum()
    html = (out / "change_report.html").read_text()
    assert 'data-tiles="20"' in html and "When a change counts" in html
    assert {p.name for p in (out / "figures").iterdir()} >= {
        "change_map.png",
        "transitions.png",
        "area_per_class.png",
        "threshold.png",
    }
    assert (out / "review_changes.csv").is_file() and (out / "unmatched_tiles.csv").is_file()
    if shutil.which("chromium") or os.environ.get("CI"):
        dom = rendered_dom(out / "change_report.html", project / "chromium-profile")
        assert 'data-ready="20"' in dom


RASTER_YEARS = ("rasterdemo2018", "rasterdemo2021")  # one place, two years, as GeoTIFF mosaics


def _raster_year(project: Path, region: str, houses_from_block: int, pipelines: str) -> None:
    write_raster_region(project / "data" / "01_raw" / region, houses_from_block)
    printed = kedro(project, "run", f"--pipelines={pipelines}", "--params", f"region={region}")
    (project / f"{region}.log").write_text(printed)


@pytest.fixture(scope="module")
def raster_years(project: Path) -> tuple[str, str]:
    """The place in 2018 (houses east of 310,480 m E), scored and reported, and 2021 (east of
    310,224 m E: the forest cells of column 1385 were built on), scored (as `make run` does)."""
    _raster_year(project, RASTER_YEARS[0], 15, "score,report")
    _raster_year(project, RASTER_YEARS[1], 7, "score")
    return RASTER_YEARS


@pytest.mark.e2e
def test_a_region_of_geotiff_mosaics_is_scored_into_cogs_and_reported(project, raster_years):
    """`kedro run --pipelines=score,report` on a folder of COG quads cuts them into 224 m cells,
    scores them and writes the class and probability COGs and a GeoPackage of the cells."""
    import rasterio

    from aerial_landuse.core.tiles.cog import is_valid_cog

    region = raster_years[0]
    scored = project / "data" / "07_model_output" / "demo" / MODEL / region
    scores = pd.read_csv(scored / "score_predictions.csv").set_index("filepath")
    assert len(scores) == 8  # the whole cells; 16 at the edges lack data (quarantined)
    out = project / "data" / "08_reporting" / "demo" / MODEL / region
    accounting = json.loads((out / "tile_accounting.json").read_text())["score"]
    assert (accounting["listed"], accounting["featurized"]) == (24, 8)
    assert accounting["quarantined_featurize"] == 16
    assert accounting["grid"] == {"grid_cells": 24, "outside_imagery": 0, "outside_area": 0}
    for name in ("land_use", "probabilities"):
        assert is_valid_cog(scored / "rasters" / f"{name}.tif")
    with rasterio.open(scored / "rasters" / "land_use.tif") as raster:
        assert raster.crs.to_epsg() == 32619 and raster.res == (224.0, 224.0)
        codes = raster.read(1)
        tags = raster.tags(1)
        names = {int(k.split("_")[1]): v for k, v in tags.items() if k.startswith("CLASS_")}
    assert (codes > 0).sum() == 8 and raster.colormap is not None
    # the two columns of whole forest cells (310,016-310,464 m E) and the houses' (310,688-)
    forest = [
        scores.loc[f"32619_{col}_{row}", "pred_label"]
        for col in (1384, 1385)
        for row in (20980, 20981)
    ]
    houses = [scores.loc[f"32619_1387_{row}", "pred_label"] for row in (20980, 20981)]
    assert forest.count("Forest") >= 3 and houses.count("Developed") >= 1, (forest, houses)
    assert sorted(names[c] for c in np.unique(codes[codes > 0])) == sorted(
        set(scores["pred_label"])
    )
    cells = gpd.read_file(out / "land_use.gpkg")
    assert cells.crs.to_epsg() == 32619 and np.allclose(cells.area, 224.0**2)
    html = (out / "report.html").read_text()
    assert html.count("data:image/jpeg;base64,") >= 2  # the cells' gallery and review sheet
    assert 'id="imagery-map"' in html and (out / "figures" / "imagery_map.png").is_file()
    assert re.search(r'id="grid-accounting">The raster region\'s grid\s+holds 24 cells', html)
    printed = (project / f"{region}.log").read_text()
    assert "color interpretation" not in printed  # the class COG's palette is meant


@pytest.mark.e2e
def test_an_area_of_interest_beside_the_mosaics_clips_the_cells_scored(project, raster_years):
    """A county boundary as area_of_interest.gpkg (in degrees) in the region's folder: only the
    cells that share ground with it are listed and scored; the file is not a raster."""
    import shapely

    region = "rasterdemo2018west"
    folder = project / "data" / "01_raw" / region
    shutil.copytree(project / "data" / "01_raw" / raster_years[0], folder)
    west = gpd.GeoDataFrame(
        geometry=[shapely.box(310_000, 4_699_488, 310_450, 4_700_000)], crs=32619
    )
    west.to_crs(4326).to_file(folder / "area_of_interest.gpkg", engine="pyogrio")
    printed = kedro(project, "run", "--pipelines=score", "--params", f"region={region}")
    assert "non conformant file extension" not in printed  # read from a local copy, as .gpkg
    scores = pd.read_csv(
        project / "data" / "07_model_output" / "demo" / MODEL / region / "score_predictions.csv"
    )
    cols = scores["filepath"].str.split("_").str[1].astype(int)
    assert len(scores) == 4 and set(cols) == {1384, 1385}  # the whole cells inside it


@pytest.mark.e2e
def test_two_years_of_mosaics_are_compared_cell_by_cell_into_a_change_raster(project, raster_years):
    import rasterio

    from aerial_landuse.core.tiles.cog import is_valid_cog

    before, after = raster_years
    kedro(project, "run", "--pipelines=change", "--params", f"before={before},after={after}")
    out = project / "data" / "08_reporting" / "demo" / MODEL / f"change_{before}_{after}"
    summary = json.loads((out / "change_summary.json").read_text())
    assert (summary["matched"], summary["match_on"]) == (8, "cell id")
    assert is_valid_cog(out / "rasters" / "change.tif")
    with rasterio.open(out / "rasters" / "change.tif") as raster:
        codes, tags = raster.read(1), raster.tags(1)
        assert raster.crs.to_epsg() == 32619 and raster.res == (224.0, 224.0)
    named = {int(k.split("_")[1]): v for k, v in tags.items() if k.startswith("CLASS_")}
    assert (codes > 0).sum() == 8
    built = [named[c] for c in codes[codes > 0]]
    assert "Forest -> Developed" in built, built  # column 1385 was built on
