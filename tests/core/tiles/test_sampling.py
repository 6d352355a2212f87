"""The seeded, stratified split and sample (aerial_landuse.core.tiles.sampling)."""

import pandas as pd
import pytest

from aerial_landuse.core.tiles.sampling import (
    calibration_sample,
    mark_sample,
    split_listing,
    stratified_split,
)
from tests.conftest import parameters


def test_one_labelled_folder_is_split_per_class_by_test_fraction():
    listing = pd.DataFrame(
        {
            "path": [f"{c}/{i:02d}" for c in "abc" for i in range(10)],
            "label": list("a" * 10 + "b" * 10 + "c" * 10),
        }
    )
    split = stratified_split(listing, 0.3, 42)
    counts = split.groupby(["label", "split"]).size().unstack()
    assert (counts["test"] == 3).all() and (counts["train"] == 7).all()
    assert split.equals(stratified_split(listing.sample(frac=1, random_state=3), 0.3, 42))


def test_stratified_split_keeps_one_of_each_side_for_tiny_classes():
    listing = pd.DataFrame(
        {"path": [f"p{i}" for i in range(5)], "label": ["a", "a", "b", "b", "b"]}
    )
    out = stratified_split(listing, 0.1, 0)
    assert all(sides == {"train", "test"} for sides in out.groupby("label")["split"].apply(set))


def test_sample_frac_is_seeded_per_class_and_keeps_every_class():
    listing = pd.DataFrame(
        {
            "path": [f"p{i:02d}" for i in range(40)],
            "label": ["a"] * 30 + ["b"] * 10,
            "split": "train",
        }
    )
    marked = listing.assign(sampled=mark_sample(listing, 0.2, 5, by=["split", "label"]))
    assert marked.groupby("label")["sampled"].sum().to_dict() == {"a": 6, "b": 2}
    shuffled = listing.sample(frac=1, random_state=1)
    again = mark_sample(shuffled, 0.2, 5, by=["split", "label"]).sort_index()
    assert again.equals(marked["sampled"])


@pytest.mark.parametrize("bad", [0.0, 1.5])
def test_bad_sample_frac_is_refused(bad):
    with pytest.raises(ValueError, match="sample_frac"):
        mark_sample(pd.DataFrame({"path": ["a"], "label": ["x"]}), bad, 0, by=None)


def test_cells_split_by_spatial_blocks_and_unlabelled_cells_are_in_no_split():
    """A labelled raster set's cells: whole blocks of cells on one side, the same split for the
    train and finetune pipelines (both call split_listing); unreadable cells keep their block's
    split, cells the land cover gave no class are no tile of either."""
    cells = [f"32619_{col}_{row}" for col in range(100, 112) for row in range(40, 52)]
    readable = pd.DataFrame(
        {"id": cells, "path": cells, "label": "Forest", "folder": "train", "state": "featurized"}
    )
    quarantine = pd.DataFrame(
        {
            "path": ["32619_112_40", "32619_112_41"],
            "split": "train",
            "label": None,
            "stage": ["label", "ingest"],
            "reason": ["mixed: ...", "unreadable"],
        }
    )
    ingest = parameters("ingest")
    ingest["land_cover"] |= {"split_block_cells": 4, "test_block_share": 0.5}
    tiles = split_listing(readable, quarantine, ingest, cells=True)
    assert set(tiles["path"]) == {*cells, "32619_112_41"}
    position = tiles["path"].str.split("_", expand=True).astype(int)
    block = (position[1] // 4).astype(str) + "/" + (position[2] // 4).astype(str)
    assert tiles.groupby(block)["split"].nunique().eq(1).all()
    assert set(tiles["split"]) == {"train", "test"}
    assert tiles.equals(split_listing(readable, quarantine, ingest, cells=True))


def test_the_calibration_sample_is_seeded_capped_and_independent_of_the_listing_order():
    paths = [f"t/{i:03d}.png" for i in range(50)]
    pretrained = parameters("pretrained") | {"calibration_tiles": 8, "seed": 4}
    sample = calibration_sample(paths, pretrained)
    assert len(set(sample)) == 8 and set(sample) <= set(paths)
    assert calibration_sample(paths[::-1], pretrained) == sample
    assert calibration_sample(paths, {**pretrained, "seed": 5}) != sample
    assert sorted(calibration_sample(paths[:3], pretrained)) == paths[:3]
