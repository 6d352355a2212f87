"""The whole pipeline on blob containers (real Azurite): blob storage stopped mid-run, the run
stops with the endpoint and the way to continue (no traceback), nothing half-written is trusted,
and after a restart `--only-missing-outputs` finishes the job with the metrics of the local run;
no secret leaks anywhere. (One run, interrupted and resumed, serves every test of the module.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pytest

from aerial_landuse.storage.atomic import STAGING_SUFFIX
from aerial_landuse.storage.hadoop import EMULATOR_PORT
from aerial_landuse.tools.azurite import Azurite, launch
from aerial_landuse.tools.processes import stop_groups
from tests.conftest import (
    EARLIER_REGION,
    MODEL,
    REGION,
    emulator_port_held,
    kedro,
    run_environment,
)

NETWORK = "efficientnet_lite0"
FEATURES = f"features/demo/{NETWORK}/labelled.parquet"


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


def _blob(server: Azurite) -> fsspec.AbstractFileSystem:
    return fsspec.filesystem(
        "abfs", connection_string=server.connection_string, skip_instance_cache=True
    )


def _run_until_outage(project: Path, env: dict[str, str], server: Azurite, process) -> dict:
    """`kedro run --env=azurite`, with Azurite's process group stopped as soon as featurize
    starts writing to it; what the failed run printed and how it ended."""
    run = subprocess.Popen(
        [sys.executable, "-m", "kedro", "run", "--env=azurite"],
        cwd=project,
        env={**run_environment(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        fs, deadline = _blob(server), time.monotonic() + 600
        while run.poll() is None and time.monotonic() < deadline:
            if fs.glob(f"{FEATURES}{STAGING_SUFFIX}-*"):
                break
            time.sleep(0.2)
        running_at_outage = run.poll() is None
        stop_groups([process.pid])  # the outage
        printed, _ = run.communicate(timeout=900)
    finally:
        stop_groups([run.pid])
    return {"running_at_outage": running_at_outage, "code": run.returncode, "printed": printed}


@pytest.fixture(scope="module")
def azurite_run(e2e_project, tmp_path_factory):
    """Upload (twice), export the network, `kedro run` until blob storage stops mid-featurize,
    restart Azurite on the same data and `kedro run --only-missing-outputs` to the end."""
    folder = tmp_path_factory.mktemp("azurite")
    with emulator_port_held():
        yield from _interrupted_and_resumed(e2e_project, folder)


def _interrupted_and_resumed(e2e_project: Path, folder: Path):
    server, process = launch(folder, EMULATOR_PORT)  # where Spark's Hadoop client reaches it
    env = {"AZURE_STORAGE_CONNECTION_STRING": server.connection_string}
    try:
        logs = upload(e2e_project, env) + upload(e2e_project, env)
        logs += kedro(e2e_project, "run", "--env=azurite", "--pipelines=pretrained", env=env)
        outage = _run_until_outage(e2e_project, env, server, process)
        server, process = launch(folder, EMULATOR_PORT)  # storage is back, same data
        fs = _blob(server)
        outage["trusted_after_outage"] = fs.exists(f"{FEATURES}/_SUCCESS")
        logs += outage["printed"]
        logs += kedro(e2e_project, "run", "--env=azurite", "--only-missing-outputs", env=env)
        yield {"project": e2e_project, "fs": fs, "logs": logs, "server": server, "outage": outage}
    finally:
        stop_groups([process.pid])


@pytest.mark.e2e
def test_an_outage_mid_featurize_stops_the_run_with_the_endpoint_and_the_way_on(azurite_run):
    outage = azurite_run["outage"]
    assert outage["running_at_outage"], "the run ended before featurize wrote anything"
    assert outage["code"] != 0
    printed = outage["printed"]
    assert f"Lost the connection to blob storage at 127.0.0.1:{EMULATOR_PORT}" in printed
    assert "kedro run --only-missing-outputs" in printed and not driver_tracebacks(printed)
    assert not outage["trusted_after_outage"]  # nothing half-written is trusted


def driver_tracebacks(printed: str) -> list[str]:
    """The tracebacks in ``printed`` but those of Spark's Python workers, which PySpark's daemon
    prints when the failed run's tasks are killed mid-batch (an EOFError: not the driver's)."""
    blocks = re.split(r"(?=Traceback \(most recent call last\):)", printed)[1:]
    return [b for b in blocks if "pyspark/daemon.py" not in "".join(b.splitlines()[1:2])]


@pytest.mark.e2e
def test_upload_copies_the_tiles_once_with_a_progress_bar(azurite_run):
    fs, logs = azurite_run["fs"], azurite_run["logs"]
    assert (
        "Uploaded 131 file(s), skipped 0 already there." in logs
    )  # 73 + 37 + 20 tiles + summaries
    assert "Uploaded 0 file(s), skipped 131 already there." in logs
    assert "upload: 100%" in logs
    assert fs.exists("train/Forest/broken.png") and fs.exists("middlesexma2016/tile_summaries.csv")


@pytest.mark.e2e
def test_every_output_lands_in_its_container(azurite_run):
    fs = azurite_run["fs"]
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
def test_metrics_after_the_outage_and_resume_equal_the_local_run(azurite_run):
    project, fs = azurite_run["project"], azurite_run["fs"]
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
def test_keys_and_connection_strings_never_appear_in_logs_outputs_or_report(azurite_run):
    project, fs, logs, azurite = (azurite_run[k] for k in ("project", "fs", "logs", "server"))
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
def test_upload_of_another_region_fills_its_own_container(azurite_run):
    project, fs, azurite = azurite_run["project"], azurite_run["fs"], azurite_run["server"]
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    printed = upload(project, env, "--region", EARLIER_REGION)
    assert "Uploaded 21 file(s)" in printed  # its 20 tiles and tile_summaries.csv
    names = {p.rsplit("/", 1)[-1] for p in fs.ls(EARLIER_REGION)}
    assert "tile_summaries.csv" in names and "naip_2010_r000_c000.png" in names
    assert not any(n.startswith("naip_2010") for n in (p.rsplit("/", 1)[-1] for p in fs.ls(REGION)))
