"""The seeded, stratified split and sample (aerial_landuse.core.tiles.sampling)."""

import pandas as pd
import pytest

from aerial_landuse.core.tiles.sampling import mark_sample, stratified_split


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
