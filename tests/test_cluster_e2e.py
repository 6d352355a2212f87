"""The whole job on a real multi-node Spark cluster: a standalone Master and two Workers (pyspark's
own), executors on the packed lean environment (spark.archives ... #environment), the catalog on
Azurite's containers. Same predictions as the local run; no executor opens the project's data/."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

from aerial_landuse.tools.azurite import running_azurite
from aerial_landuse.tools.cluster import running_cluster
from tests.conftest import (
    MODEL,
    REGION,
    ROOT,
    copy_project,
    emulator_port_held,
    kedro,
    parameters,
    write_labelled_raster_set,
    write_raster_region,
)

pytestmark = pytest.mark.cluster
AUDIT = Path(__file__).parent / "cluster_audit"
CLASSIFIERS = (
    "logistic_regression",
    "lightgbm",
)  # Spark ML's (the first run) and SynapseML's (the labelled raster set); random forest: as LR
RASTER_REGION = "rasterdemo2019"
LABELLED_SET, LAND_COVER, LABELLED_DATASET = "naip2019", "nlcd2019", "naip"
LABELLED_GRID = "ingest.raster.tile_size_m=64,ingest.land_cover.split_block_cells=2"


@pytest.fixture(scope="module")
def executor_env(tmp_path_factory) -> Path:
    """The lean executor environment, packed by the project's own command."""
    built = ROOT / "dist" / "executor-env.tar.gz"
    if not built.exists():
        subprocess.run(
            [sys.executable, "-m", "aerial_landuse.tools.executor_env", "--output", str(built)],
            cwd=ROOT,
            check=True,
            timeout=1800,
        )
    return built


@pytest.fixture(scope="module")
def cluster_run(e2e_project, executor_env, tmp_path_factory):
    """`kedro run --env=cluster` and friends on two Workers, data in a fresh Azurite."""
    base = tmp_path_factory.mktemp("cluster")
    project = copy_project(base / "aerial-landuse")
    shutil.copytree(e2e_project / "data" / "01_raw", project / "data" / "01_raw")
    audit_log = base / "executor-opens.log"
    audit_log.touch()
    (project / "conf" / "cluster" / "spark_audit.yml").write_text(
        f"spark.executorEnv.PYTHONPATH: {AUDIT}\n"
        f"spark.executorEnv.AERIAL_FORBIDDEN_PATH: {project}\n"
        f"spark.executorEnv.AERIAL_AUDIT_LOG: {audit_log}\n"
    )
    with (
        emulator_port_held(),
        running_azurite(base / "azurite") as azurite,
        running_cluster(base / "spark", workers=2, cores=1, memory="3g") as cluster,
    ):
        env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
        params = f"spark_master={cluster.master_url},executor_env={executor_env}"
        _upload(project, env)
        fs = fsspec.filesystem(
            "abfs", connection_string=azurite.connection_string, skip_instance_cache=True
        )
        network = e2e_project / "data" / "06_models" / "pretrained" / "efficientnet_lite0.onnx"
        fs.put_file(str(network), "pretrainedmodels/efficientnet_lite0.onnx")  # exported once
        logs = kedro(project, "run", "--env=cluster", "--params", params, env=env)
        first = _score_predictions(azurite)
        # a region of GeoTIFF mosaics on blob storage, scored in a fresh session with the model
        # the first run saved: executors read the cells' windows; its failure is its tests'
        # (raster_failure), not every cluster test's
        raster_failure = labelled_failure = None
        try:
            logs += _score_raster_region(project, params, env)
        except (AssertionError, subprocess.CalledProcessError) as exc:
            raster_failure = str(exc)
        try:  # a labelled raster set and its land cover on blob storage, labelled on executors,
            # featurized and learnt by SynapseML's classifier (one session for both)
            logs += _train_on_labelled_raster_set(project, params, env)
        except (AssertionError, subprocess.CalledProcessError) as exc:
            labelled_failure = str(exc)
        workers = cluster.worker_dirs
        yield {
            "project": project,
            "fs": fs,
            "logs": logs,
            "first_scores": first,
            "workers": workers,
            "opened": audit_log.read_text(),
            "raster_failure": raster_failure,
            "labelled_failure": labelled_failure,
        }


def _score_raster_region(project: Path, params: str, env: dict[str, str]) -> str:
    """Two COG quads uploaded to the region's container, scored on the cluster."""
    write_raster_region(project / "data" / "01_raw" / RASTER_REGION, 15)
    return _upload_and_run(
        project, env, ["--region", RASTER_REGION],
        ["--pipelines=score", "--params", f"{params},region={RASTER_REGION}"],
    )  # fmt: skip


def _train_on_labelled_raster_set(project: Path, params: str, env: dict[str, str]) -> str:
    """Two COG quads and an NLCD-like raster uploaded to their containers (folders named by
    parameters, as `make run` names the demo's); on the cluster, the labelled part of ingest,
    then featurize, train and evaluate with the last of ``CLASSIFIERS`` (SynapseML's)."""
    raw = project / "data" / "01_raw"
    write_labelled_raster_set(raw / LABELLED_SET, raw / LAND_COVER)
    folders = f"train_folder={LABELLED_SET},land_cover_folder={LAND_COVER}"
    learnt = f"dataset={LABELLED_DATASET},{folders},{LABELLED_GRID},classifier={CLASSIFIERS[-1]}"
    return _upload_and_run(
        project, env, ["--params", folders],
        ["--to-outputs=ingest_summary_labelled,metrics", "--params", f"{params},{learnt}"],
    )  # fmt: skip


def _upload_and_run(
    project: Path, env: dict[str, str], upload_options: list[str], run_options: list[str]
) -> str:
    """`tools/upload --env cluster` with ``upload_options``, then `kedro run --env=cluster` with
    ``run_options``; what the run printed."""
    _upload(project, env, *upload_options)
    return kedro(project, "run", "--env=cluster", *run_options, env=env)


def _upload(project: Path, env: dict[str, str], *options: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "aerial_landuse.tools.upload", "--env", "cluster", *options],
        cwd=project, env={**os.environ, **env}, check=True, timeout=600, capture_output=True,
    )  # fmt: skip


def _score_predictions(azurite) -> pd.DataFrame:
    fs = fsspec.filesystem(
        "abfs", connection_string=azurite.connection_string, skip_instance_cache=True
    )
    return pd.read_csv(
        io.BytesIO(fs.cat_file(f"predictions/demo/{MODEL}/{REGION}/score_predictions.csv"))
    )


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["error"].isna()].set_index("id").sort_index()


def test_executors_ran_tasks_on_both_workers(cluster_run):
    ran = []
    for worker in cluster_run["workers"]:
        logs = [p.read_text(errors="replace") for p in worker.rglob("stderr")]
        ran.append(any("Running task" in text for text in logs))
    assert ran == [True, True], cluster_run["workers"]


def test_no_executor_opened_a_file_of_the_driver_project(cluster_run):
    assert cluster_run["opened"] == ""
    assert "ModuleNotFoundError" not in cluster_run["logs"]


def test_features_equal_the_local_run(cluster_run, e2e_project):
    fs = cluster_run["fs"]
    parts = fs.glob("features/demo/efficientnet_lite0/labelled.parquet/part-*.parquet")
    remote = pd.concat(pq.read_table(io.BytesIO(fs.cat_file(p))).to_pandas() for p in parts)
    local = pd.read_parquet(
        e2e_project / "data" / "04_feature" / "demo" / "efficientnet_lite0" / "labelled.parquet"
    )
    remote, local = _features(remote), _features(local)
    assert list(remote.index) == list(local.index) and len(local) > 50
    for a, b in zip(remote["features"], local["features"], strict=True):
        assert abs(a - b).max() < 1e-5


def test_predictions_equal_the_local_run(cluster_run, e2e_project):
    local = pd.read_csv(
        e2e_project / "data" / "07_model_output" / "demo" / MODEL / REGION / "score_predictions.csv"
    )
    cluster = cluster_run["first_scores"]
    assert list(cluster["filename"]) == list(local["filename"])
    assert list(cluster["pred_label"]) == list(local["pred_label"])
    metrics = json.loads(cluster_run["fs"].cat_file(f"predictions/demo/{MODEL}/metrics.json"))
    local_metrics = json.loads(
        (e2e_project / "data" / "07_model_output" / "demo" / MODEL / "metrics.json").read_text()
    )
    assert metrics["confusion_matrix"] == local_metrics["confusion_matrix"]


def test_spark_ml_and_synapseml_classifiers_train_and_evaluate_on_the_cluster(cluster_run):
    """Spark ML's on the demo tiles (the first run), SynapseML's on the labelled raster set."""
    assert cluster_run["labelled_failure"] is None, cluster_run["labelled_failure"]
    fs = cluster_run["fs"]
    for classifier, dataset in zip(CLASSIFIERS, ("demo", LABELLED_DATASET), strict=True):
        model = f"efficientnet_lite0_{classifier}"
        metrics = json.loads(fs.cat_file(f"predictions/{dataset}/{model}/metrics.json"))
        assert metrics["accuracy"] > 0.5, classifier
        stored = "classifier.txt" if classifier == "lightgbm" else "pipeline/metadata/part-00000"
        assert fs.exists(f"trainedmodels/{dataset}/{model}/{stored}")


def test_a_model_saved_on_the_cluster_loads_in_a_fresh_session(cluster_run):
    """The raster region's run (a new driver) scored with the model the first run saved on blob
    storage: its run id and name, and every cell scored. (Saved-and-loaded predictions equal:
    tests/datasets/test_fsspec_spark.py, on Azurite, read and written by executors.)"""
    assert cluster_run["raster_failure"] is None, cluster_run["raster_failure"]
    first = cluster_run["first_scores"]
    scored = f"predictions/demo/{MODEL}/{RASTER_REGION}/score_predictions.csv"
    again = pd.read_csv(io.BytesIO(cluster_run["fs"].cat_file(scored)))
    assert len(first) == 20 and first["mlflow_run_id"].nunique() == 1
    assert again["mlflow_run_id"].eq(first["mlflow_run_id"].iloc[0]).all()
    assert again["model_name"].eq(MODEL).all() and again["confidence"].between(0, 1).all()


def test_a_raster_region_on_blob_storage_is_scored_on_the_cluster(cluster_run, tmp_path):
    """The quads are in an Azurite container; the executors read each cell's windows through
    their own filesystem (the audit finds no local file opened) and the class COG lands there."""
    from aerial_landuse.core.tiles.cog import is_valid_cog

    assert cluster_run["raster_failure"] is None, cluster_run["raster_failure"]
    fs, scored = cluster_run["fs"], f"predictions/demo/{MODEL}/{RASTER_REGION}"
    predictions = pd.read_csv(io.BytesIO(fs.cat_file(f"{scored}/score_predictions.csv")))
    assert len(predictions) == 8 and predictions["filepath"].str.match(r"32619_\d+_\d+").all()
    fs.get_file(f"{scored}/rasters/land_use.tif", str(tmp_path / "land_use.tif"))
    assert is_valid_cog(tmp_path / "land_use.tif")


def test_a_labelled_raster_set_on_blob_storage_is_labelled_on_the_executors(cluster_run):
    """The cells' labels, read by the executors from the land cover's container, are those the
    library gives reading the same files here; every cell counted."""
    from aerial_landuse.core.tiles.land_cover import LabelRule, LandCoverLabeller
    from aerial_landuse.core.tiles.raster_cells import read_source_header
    from aerial_landuse.core.tiles.raster_region import RasterRegion, cell_position

    assert cluster_run["labelled_failure"] is None, cluster_run["labelled_failure"]
    fs, folder = cluster_run["fs"], f"intermediate/{LABELLED_DATASET}"
    row = json.loads(fs.cat_file(f"{folder}/ingest_summary_labelled.json"))["train"]
    assert row["listed"] == row["indexed"] + row["unlabelled"] + row["quarantined"]
    assert row["indexed"] > 20 and row["unlabelled"] > 0
    parts = fs.glob(f"{folder}/labelled_tile_index.parquet/part-*.parquet")
    index = pd.concat(pq.read_table(io.BytesIO(fs.cat_file(p))).to_pandas() for p in parts)
    region = RasterRegion.from_record(
        json.loads(fs.cat_file(f"{folder}/labelled_raster_region.json"))
    )
    land_cover = cluster_run["project"] / "data" / "01_raw" / LAND_COVER / "nlcd.tif"
    rule = LabelRule.of(parameters("ingest")["land_cover"])
    with LandCoverLabeller(region.grid, [read_source_header(str(land_cover))], rule) as labeller:
        expected = [labeller.label(*cell_position(cell)).label for cell in index["id"]]
    assert len(index) == row["indexed"] and list(index["label"]) == expected
