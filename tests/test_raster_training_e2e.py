"""Training from imagery and a land-cover raster, the way the scenario's training set was made:
`kedro run` on a train_tiles folder of two NAIP-like COG quads (no class folders) and an
NLCD-like raster in its own projection, in folders named by parameters as `make run` names the
demo's (train_folder, land_cover_folder, dataset): cells labelled by majority
class on the executors, the unlabelled ones listed with their reason and counted, train and test
split by spatial blocks, and the report says so."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import MODEL, copy_project, kedro, write_labelled_raster_set

pytestmark = pytest.mark.e2e
BLOCK = 2  # cells a side of a split block
DATASET = "naip"
PARAMS = (
    f"dataset={DATASET},train_folder=naip2019,land_cover_folder=nlcd2019,"
    f"ingest.raster.tile_size_m=64,ingest.land_cover.split_block_cells={BLOCK}"
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str]:
    project = copy_project(tmp_path_factory.mktemp("raster-training") / "aerial-landuse")
    raw = project / "data" / "01_raw"
    write_labelled_raster_set(raw / "naip2019", raw / "nlcd2019")
    kedro(project, "run", "--pipelines=pretrained")
    return project, kedro(project, "run", "--params", PARAMS)


def _json(project: Path, path: str) -> dict:
    return json.loads((project / "data" / path).read_text())


def test_cells_are_labelled_from_the_land_cover_raster_and_every_cell_is_counted(trained):
    project, printed = trained
    row = _json(project, f"02_intermediate/{DATASET}/ingest_summary_labelled.json")["train"]
    assert row["listed"] == row["indexed"] + row["unlabelled"] + row["quarantined"]
    assert row["grid"]["grid_cells"] == row["listed"] + row["grid"]["outside_imagery"]
    assert row["unlabelled"] > 0 and "have no class in the land-cover raster" in printed
    quarantine = pd.read_csv(
        project / f"data/02_intermediate/{DATASET}/ingest_quarantine_labelled.csv"
    )
    reasons = quarantine.loc[quarantine["stage"] == "label", "reason"]
    assert len(reasons) == row["unlabelled"] and reasons.str.startswith("mixed: ").any()


def test_train_and_test_are_split_by_spatial_blocks(trained):
    project, _ = trained
    split = pd.read_csv(project / f"data/05_model_input/{DATASET}/labelled_split.csv")
    cells = split["path"].str.extract(r"^\d+_(?P<col>\d+)_(?P<row>\d+)$").astype(int)
    assert cells.notna().all().all()
    blocks = split.assign(
        block=(cells["col"] // BLOCK).astype(str) + "/" + (cells["row"] // BLOCK).astype(str)
    )
    assert blocks.groupby("block")["split"].nunique().eq(1).all()
    used = split[split["used"]]
    assert set(used["split"]) == {"train", "test"}
    assert set(used["label"]) == {"Forest", "Cultivated", "Developed"}


def test_the_model_learns_the_land_cover_classes_and_the_report_says_the_split_is_spatial(trained):
    project, _ = trained
    metrics = _json(project, f"07_model_output/{DATASET}/{MODEL}/metrics.json")
    assert metrics["accuracy"] > 0.7, metrics["accuracy"]
    report = next(
        (project / "data/08_reporting" / DATASET / MODEL).rglob("report.html")
    ).read_text()
    assert f"spatial: the cells split by blocks of {BLOCK} x {BLOCK} cells" in report
    row = _json(project, f"02_intermediate/{DATASET}/ingest_summary_labelled.json")["train"]
    said = re.sub(r"\s+", " ", report[report.index('id="label-accounting"') :])
    assert f"the land cover (the train and test rows above) and {row['unlabelled']} did not" in said
