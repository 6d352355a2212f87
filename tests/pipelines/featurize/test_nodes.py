import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from PIL import Image

from aerial_landuse.core.classifiers.trained import usable_features
from aerial_landuse.core.contracts import QUARANTINE_COLUMNS
from aerial_landuse.core.tiles.images import decode_tile
from aerial_landuse.core.tiles.usable import UnusableTilesError
from aerial_landuse.pipelines.featurize.nodes import (
    featurize_tiles,
    quarantine_and_count_featurized,
)
from aerial_landuse.pipelines.ingest.nodes import (
    list_labelled_tiles,
    probe_tiles,
    split_index_and_quarantine,
    unopened_tiles,
)
from aerial_landuse.pipelines.train.nodes import split_labelled_tiles
from tests.conftest import folder, parameters, write_labelled_folder

INGEST = parameters("ingest") | {
    "test_fraction": 0.34,
    "sample_frac": 1.0,
    "seed": 0,
    "rows_per_partition": 4,
    "max_quarantined_share": 0.5,  # these tests break tiles on purpose
}
FEATURIZE = parameters("featurize") | {
    "pretrained_model": "efficientnet_lite0",
    "batch_size": 4,
    "onnx_threads": 1,
    "decode_threads": 2,
    "rows_per_partition": 5,
}


def featurize_labelled(index, tiles, network, params, tmp_path=None):
    """The two featurize nodes as the pipeline runs them: features written, then accounted for."""
    featurized = featurize_tiles(index, tiles, network, params, INGEST).frame  # rows + their job
    if tmp_path is not None:  # as the catalog does: write, read back
        path = str(tmp_path / "features.parquet")
        featurized.write.mode("overwrite").parquet(path)
        featurized = featurized.sparkSession.read.parquet(path)
    quarantine, summary = quarantine_and_count_featurized(index, featurized, network, INGEST)
    nothing = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    split, _ = split_labelled_tiles(featurized, nothing, INGEST)  # as the train pipeline does
    train, test = (usable_features(featurized, name, split) for name in ("train", "test"))
    return train, test, quarantine, summary


def indexed_tiles(tmp_path, size):
    """Two classes of three tiles plus a truncated PNG (valid header), listed and probed."""
    root = write_labelled_folder(tmp_path / "train", 3, ("Forest", "Developed"), size=size)
    (root / "Forest" / "truncated.png").write_bytes(
        (root / "Forest" / "forest_000.png").read_bytes()[:300]
    )
    tiles = folder(root)
    listing, ignored, _ = list_labelled_tiles(tiles, folder(tmp_path / "none"), INGEST)
    index, quarantine, _ = split_index_and_quarantine(
        probe_tiles(listing, tiles, INGEST), listing, ignored, INGEST
    )
    return tiles, index, quarantine


@pytest.fixture
def labelled_index(spark, tmp_path):
    return indexed_tiles(tmp_path, 96)


def test_features_match_onnxruntime_on_the_same_tiles_and_broken_tiles_are_quarantined(
    labelled_index, lite0_network, tmp_path
):
    tiles, index, ingest_quarantine = labelled_index
    assert len(ingest_quarantine) == 0  # the truncated PNG has a valid header: only decoding fails
    train, test, quarantine, summary = featurize_labelled(
        index, tiles, lite0_network, FEATURIZE, tmp_path
    )
    rows = train.collect() + test.collect()
    assert len(rows) == 6 and {r["split"] for r in rows} == {"train", "test"}
    assert quarantine["path"].str.endswith("truncated.png").tolist() == [True]
    assert quarantine["stage"].iloc[0] == "featurize:efficientnet_lite0"
    assert (
        summary["train"]["indexed"]
        == summary["train"]["featurized"] + summary["train"]["quarantined"]
    )
    assert sum(s["featurized"] for k, s in summary.items() if isinstance(s, dict)) == 6

    session = ort.InferenceSession(lite0_network.uint8_bytes, providers=["CPUExecutionProvider"])
    row = rows[0]
    with open(row["path"], "rb") as handle:
        expected = session.run(None, {"image": decode_tile(handle.read(), 224)[None]})[0][0]
    np.testing.assert_allclose(row["features"].toArray(), expected, atol=1e-4)
    assert row["features"].size == 1280


def test_features_do_not_depend_on_batching(labelled_index, lite0_network):
    tiles, index, _ = labelled_index
    one = {
        r["id"]: r["features"].toArray()
        for r in featurize_labelled(index, tiles, lite0_network, {**FEATURIZE, "batch_size": 1})[
            0
        ].collect()
    }
    many = {
        r["id"]: r["features"].toArray()
        for r in featurize_labelled(index, tiles, lite0_network, {**FEATURIZE, "batch_size": 16})[
            0
        ].collect()
    }
    assert one.keys() == many.keys()
    for key, features in one.items():
        np.testing.assert_allclose(features, many[key], atol=1e-4)


def test_network_must_match_the_requested_pretrained_model(labelled_index, lite0_network):
    tiles, index, _ = labelled_index
    with pytest.raises(ValueError, match="resnet18"):
        featurize_labelled(
            index, tiles, lite0_network, {**FEATURIZE, "pretrained_model": "resnet18"}
        )


def _score_folder(root, names: list[str], broken: list[str]):
    """A score folder of green tiles named ``names`` (``broken`` ones cut short), its bounds,
    listed and indexed as the score pipeline does: the tiles are not opened at ingest."""
    from aerial_landuse.pipelines.ingest.nodes import list_score_tiles

    root.mkdir()
    for name in names:
        Image.new("RGB", (224, 224), (30, 90, 40)).save(root / name)
    for name in broken:
        (root / name).write_bytes((root / name).read_bytes()[:300])
    summaries = pd.DataFrame(
        [
            {
                "filename": name,
                "llcrnrlat": 1.0,
                "llcrnrlon": 2.0 + i,
                "urcrnrlat": 1.1,
                "urcrnrlon": 2.1 + i,
            }
            for i, name in enumerate(names)
        ]
    )
    tiles = folder(root, labelled=False)
    listing, ignored, _ = list_score_tiles(
        tiles, summaries, None, {**INGEST, "score_sample_frac": 1.0}
    )
    index, quarantine, ingested = split_index_and_quarantine(
        unopened_tiles(listing, tiles), listing, ignored, INGEST
    )
    assert quarantine.empty and ingested["score"]["indexed"] == len(names)  # none opened
    return tiles, index


def test_score_features_keep_bounds(spark, tmp_path, lite0_network):
    tiles, index = _score_folder(tmp_path / "score", ["a.png"], [])
    featurized = featurize_tiles(index, tiles, lite0_network, FEATURIZE, INGEST).frame
    quarantine, summary = quarantine_and_count_featurized(index, featurized, lite0_network, INGEST)
    row = usable_features(featurized).collect()[0]
    assert (row["llcrnrlat"], row["urcrnrlon"]) == (1.0, 2.1) and len(quarantine) == 0
    assert summary["score"] == {"indexed": 1, "featurized": 1, "quarantined": 0}


def test_tiles_to_score_are_read_once_by_featurize_which_quarantines_the_unreadable(
    spark, tmp_path, lite0_network
):
    names = [f"t{i}.png" for i in range(4)]
    tiles, index = _score_folder(tmp_path / "score", names, ["t3.png"])
    featurized = featurize_tiles(index, tiles, lite0_network, FEATURIZE, INGEST).frame
    quarantine, summary = quarantine_and_count_featurized(index, featurized, lite0_network, INGEST)
    assert summary["score"] == {"indexed": 4, "featurized": 3, "quarantined": 1}
    assert quarantine["path"].str.endswith("t3.png").all() and len(quarantine) == 1
    assert quarantine["stage"].eq("featurize:efficientnet_lite0").all()
    assert quarantine["reason"].iloc[0] == "OSError: image file is truncated"

    strict = {**INGEST, "max_quarantined_share": 0.2}  # 1 of 4 is too many: the folder is wrong
    with pytest.raises(UnusableTilesError, match=r"1 of 4 score tiles under .*score could not"):
        quarantine_and_count_featurized(index, featurized, lite0_network, strict)


def test_synapseml_backend_gives_the_same_features_and_quarantine(spark, tmp_path, lite0_network):
    tiles, index, _ = indexed_tiles(tmp_path, 224)
    by_backend = {}
    for backend in ("onnxruntime", "synapseml"):
        train, test, quarantine, _ = featurize_labelled(
            index, tiles, lite0_network, {**FEATURIZE, "backend": backend}
        )
        by_backend[backend] = {
            r["id"]: r["features"].toArray() for r in train.collect() + test.collect()
        }
        assert quarantine["path"].str.endswith("truncated.png").tolist() == [True]
    assert (
        by_backend["onnxruntime"].keys() == by_backend["synapseml"].keys()
        and len(by_backend["synapseml"]) == 6
    )
    for key, features in by_backend["onnxruntime"].items():
        np.testing.assert_allclose(by_backend["synapseml"][key], features, atol=1e-3)


def test_tta_features_are_the_mean_over_the_dihedral_views(labelled_index, lite0_network):
    """tta_views=8: each tile's features are the average over its 8 flips/rotations, so a tile
    and its rotation get the same features."""
    tiles, index, _ = labelled_index
    train, test, _, _ = featurize_labelled(
        index, tiles, lite0_network, {**FEATURIZE, "tta_views": 8}
    )
    row = (train.collect() + test.collect())[0]
    session = ort.InferenceSession(lite0_network.uint8_bytes, providers=["CPUExecutionProvider"])
    with open(row["path"], "rb") as handle:
        pixels = decode_tile(handle.read(), 224)
    views = [np.rot90(pixels, k) for k in range(4)] + [
        np.rot90(pixels[:, ::-1], k) for k in range(4)
    ]
    per_view = session.run(None, {"image": np.ascontiguousarray(np.stack(views))})[0]
    np.testing.assert_allclose(row["features"].toArray(), per_view.mean(0), atol=1e-4)
    plain = session.run(None, {"image": pixels[None]})[0][0]
    assert np.abs(row["features"].toArray() - plain).max() > 1e-3  # not the plain features


def test_tta_runs_in_the_onnxruntime_backend_only(labelled_index, lite0_network):
    tiles, index, _ = labelled_index
    with pytest.raises(ValueError, match="onnxruntime backend"):
        featurize_tiles(
            index,
            tiles,
            lite0_network,
            {**FEATURIZE, "tta_views": 2, "backend": "synapseml"},
            INGEST,
        )


def test_a_raster_region_is_listed_as_cells_and_featurized_from_its_files(
    spark, tmp_path, lite0_network
):
    """A folder of GeoTIFF/COG quads and no tile_summaries.csv: its cells are listed with their
    corners, indexed without a read, and read once by the executors with the real network; a
    cell mostly outside the imagery is quarantined with its nodata share; counts reconcile."""
    from aerial_landuse.core.tiles.demo_rasters import MosaicLayout, write_quads
    from aerial_landuse.pipelines.ingest.nodes import list_score_tiles

    layout = MosaicLayout(quad_px=512, overlap_px=32, collar_px=8)  # 992 m x 512 m
    write_quads(tmp_path / "region", "quad", np.zeros((16, 31), int), 32.0, layout, seed=3)
    tiles = folder(tmp_path / "region", labelled=False)
    listing, ignored, record = list_score_tiles(tiles, None, None, INGEST)
    assert len(listing) == 24 and listing["path"].str.fullmatch(r"32619_\d+_\d+").all()
    assert record["grid"]["crs"] == "EPSG:32619" and len(record["sources"]) == 2
    assert ignored.empty and listing[["llcrnrlat", "urcrnrlon"]].notna().all().all()
    index, quarantine, ingested = split_index_and_quarantine(
        unopened_tiles(listing, tiles), listing, ignored, INGEST, record
    )
    assert index.count() == 24 and quarantine.empty  # no cell is read at ingest
    grid = {"grid_cells": 24, "outside_imagery": 0, "outside_area": 0}
    assert ingested["score"]["listed"] == 24 and ingested["score"]["grid"] == grid
    featurized = featurize_tiles(index, tiles, lite0_network, FEATURIZE, INGEST, None, record)
    quarantine, summary = quarantine_and_count_featurized(
        index, featurized.frame, lite0_network, INGEST, record
    )
    # columns 1383 and 1388 reach 16 m and 200 m into the imagery (8 m of it collar): 4 + 4
    # cells; rows 20979 and 20982 reach 160 m and 64 m into it: 4 + 4 more
    assert summary["score"] == {"indexed": 24, "featurized": 8, "quarantined": 16}
    assert quarantine["reason"].str.fullmatch(r"nodata: \d+% of the cell has no data").all()
    features = usable_features(featurized.frame).collect()
    assert len(features) == 8 and all(np.isfinite(r["features"].toArray()).all() for r in features)
