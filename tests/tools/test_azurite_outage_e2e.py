"""Blob storage stopped mid-run: the run stops with the endpoint and the way to continue (no
traceback), the previous outputs are intact, and after a restart `--only-missing-outputs`
finishes the job with the metrics of an uninterrupted run (real Azurite, stopped and restarted)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import fsspec
import pytest

from aerial_landuse.storage.atomic import STAGING_SUFFIX
from aerial_landuse.storage.hadoop import EMULATOR_PORT
from aerial_landuse.tools.azurite import launch
from aerial_landuse.tools.processes import stop_groups
from tests.conftest import MODEL, kedro
from tests.tools.test_azurite_e2e import upload

FEATURES = "features/demo/efficientnet_lite0/labelled.parquet"


@pytest.mark.e2e
def test_outage_mid_featurize_then_restart_and_resume(e2e_project, tmp_path):
    folder, port = tmp_path / "azurite", EMULATOR_PORT  # where Spark's Hadoop client reaches it
    server, process = launch(folder, port)
    env = {"AZURE_STORAGE_CONNECTION_STRING": server.connection_string}
    try:
        upload(e2e_project, env)
        kedro(e2e_project, "run", "--env=azurite", "--pipelines=pretrained", env=env)
        fs = fsspec.filesystem("abfs", connection_string=server.connection_string,
                               skip_instance_cache=True)  # fmt: skip
        run = subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--env=azurite"],
            cwd=e2e_project,
            env={**os.environ, **env, "PYSPARK_PYTHON": sys.executable, "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 600
            while run.poll() is None and time.monotonic() < deadline:
                if fs.glob(f"{FEATURES}{STAGING_SUFFIX}-*"):
                    break
                time.sleep(0.2)
            assert run.poll() is None, "the run ended before featurize wrote anything"
            stop_groups([process.pid])  # the outage
            printed, _ = run.communicate(timeout=900)
        finally:
            stop_groups([run.pid])
        assert run.returncode != 0
        assert f"Lost the connection to blob storage at 127.0.0.1:{port}" in printed
        assert "kedro run --only-missing-outputs" in printed and not driver_tracebacks(printed)

        server, process = launch(folder, port)  # storage is back, same data
        fs = fsspec.filesystem("abfs", connection_string=server.connection_string,
                               skip_instance_cache=True)  # fmt: skip
        assert not fs.exists(f"{FEATURES}/_SUCCESS")  # nothing half-written is trusted
        kedro(e2e_project, "run", "--env=azurite", "--only-missing-outputs", env=env)
        resumed = json.loads(fs.cat_file(f"predictions/demo/{MODEL}/metrics.json"))
        local = json.loads(
            (e2e_project / "data" / "07_model_output" / "demo" / MODEL / "metrics.json").read_text()
        )
        assert resumed["accuracy"] == pytest.approx(local["accuracy"])
        assert resumed["confusion_matrix"] == local["confusion_matrix"]
    finally:
        stop_groups([process.pid])


def driver_tracebacks(printed: str) -> list[str]:
    """The tracebacks in ``printed`` but those of Spark's Python workers, which PySpark's daemon
    prints when the failed run's tasks are killed mid-batch (an EOFError: not the driver's)."""
    blocks = re.split(r"(?=Traceback \(most recent call last\):)", printed)[1:]
    return [b for b in blocks if "pyspark/daemon.py" not in "".join(b.splitlines()[1:2])]
