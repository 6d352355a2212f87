"""The whole pipeline on blob containers (real Azurite): same metrics as local, no secret leaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fsspec
import pytest

from tests.conftest import EARLIER_REGION, MODEL, REGION, kedro

NETWORK = "efficientnet_lite0"


def upload(project: Path, env: dict[str, str], *options: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "aerial_landuse.tools.upload", "--env", "azurite", *options],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def azurite_run(e2e_project, azurite):
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    logs = upload(e2e_project, env)
    logs += upload(e2e_project, env)
    logs += kedro(e2e_project, "run", "--env=azurite", "--pipelines=pretrained", env=env)
    logs += kedro(e2e_project, "run", "--env=azurite", env=env)
    fs = fsspec.filesystem(
        "abfs", connection_string=azurite.connection_string, skip_instance_cache=True
    )
    return e2e_project, fs, logs


@pytest.mark.e2e
def test_upload_copies_the_tiles_once_with_a_progress_bar(azurite_run):
    project, fs, logs = azurite_run
    assert (
        "Uploaded 131 file(s), skipped 0 already there." in logs
    )  # 73 + 37 + 20 tiles + summaries
    assert "Uploaded 0 file(s), skipped 131 already there." in logs
    assert "upload: 100%" in logs
    assert fs.exists("train/Forest/broken.png") and fs.exists("middlesexma2016/tile_summaries.csv")


@pytest.mark.e2e
def test_every_output_lands_in_its_container(azurite_run):
    _, fs, _ = azurite_run
    expected = [
        f"pretrainedmodels/{NETWORK}.onnx",
        "intermediate/demo/labelled_tile_index.parquet/_SUCCESS",
        "intermediate/demo/ingest_quarantine_labelled.csv",
        f"features/demo/{NETWORK}/labelled.parquet/_SUCCESS",
        f"features/regions/{REGION}/{NETWORK}/features.parquet/_SUCCESS",
        f"intermediate/regions/{REGION}/tile_index.parquet/_SUCCESS",
        f"trainedmodels/demo/{MODEL}/model.json",
        f"trainedmodels/demo/{MODEL}/pipeline/metadata/part-00000",  # Spark ML's format
        f"predictions/demo/{MODEL}/metrics.json",
        f"predictions/demo/{MODEL}/test_predictions.csv",
        f"predictions/demo/{MODEL}/{REGION}/score_predictions.csv",
        f"reports/demo/{MODEL}/{REGION}/report.html",
        f"reports/demo/{MODEL}/{REGION}/land_use.geojson",
        f"reports/demo/{MODEL}/{REGION}/land_use.gpkg",
        f"reports/demo/{MODEL}/{REGION}/review_queue.csv",
        f"reports/demo/{MODEL}/{REGION}/figures/land_use_map.png",
    ]
    missing = [path for path in expected if not fs.exists(path)]
    assert not missing, missing
    assert any(
        p.endswith(".parquet")
        for p in fs.ls(f"predictions/demo/{MODEL}/{REGION}/score_predictions.parquet")
    )


@pytest.mark.e2e
def test_metrics_equal_the_local_run(azurite_run):
    project, fs, _ = azurite_run
    local = json.loads(
        (project / "data" / "07_model_output" / "demo" / MODEL / "metrics.json").read_text()
    )
    remote = json.loads(fs.cat_file(f"predictions/demo/{MODEL}/metrics.json"))
    assert remote["accuracy"] == local["accuracy"]
    assert remote["confusion_matrix"] == local["confusion_matrix"]
    assert remote["per_class"] == local["per_class"]
    accounting = json.loads(fs.cat_file(f"reports/demo/{MODEL}/{REGION}/tile_accounting.json"))
    assert accounting == json.loads(
        (
            project / "data" / "08_reporting" / "demo" / MODEL / REGION / "tile_accounting.json"
        ).read_text()
    )


@pytest.mark.e2e
def test_keys_and_connection_strings_never_appear_in_logs_outputs_or_report(azurite_run, azurite):
    project, fs, logs = azurite_run
    secrets = [azurite.key, azurite.connection_string, f"AccountKey={azurite.key[:12]}"]
    for secret in secrets:
        assert secret not in logs
    report = fs.cat_file(f"reports/demo/{MODEL}/{REGION}/report.html").decode()
    assert "<html" in report and not any(s in report for s in secrets)
    for container in (
        "intermediate",
        "features",
        "trainedmodels",
        "predictions",
        "reports",
        "pretrainedmodels",
    ):
        for path in fs.find(container):
            content = fs.cat_file(path)
            assert azurite.key.encode() not in content, path
    for path in project.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert azurite.key.encode() not in path.read_bytes(), path


@pytest.mark.e2e
def test_upload_of_another_region_fills_its_own_container(azurite_run, azurite):
    project, fs, _ = azurite_run
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    printed = upload(project, env, "--region", EARLIER_REGION)
    assert "Uploaded 21 file(s)" in printed  # its 20 tiles and tile_summaries.csv
    names = {p.rsplit("/", 1)[-1] for p in fs.ls(EARLIER_REGION)}
    assert "tile_summaries.csv" in names and "naip_2010_r000_c000.png" in names
    assert not any(n.startswith("naip_2010") for n in (p.rsplit("/", 1)[-1] for p in fs.ls(REGION)))
