"""Every case of the fault corpus (tests/fault_corpus.py) gets the outcome its rule promises:
listed and probed on real Spark, decoded by the featurize executors' own function."""

from __future__ import annotations

from collections import Counter

import pytest

from aerial_landuse.core.inference import read_and_decode
from aerial_landuse.core.tiles.images import TileLimits
from aerial_landuse.pipelines.ingest.nodes import (
    list_labelled_tiles,
    probe_tiles,
    split_index_and_quarantine,
)
from tests.conftest import folder, parameters
from tests.fault_corpus import CASES, GOOD_CLASSES, SYMLINKED_CLASS, write_corpus

PARAMS = parameters("ingest") | {
    "test_fraction": 0.5,
    "sample_frac": 1.0,
    "score_sample_frac": 1.0,
    "seed": 1,
    "rows_per_partition": 8,
    "max_quarantined_share": 1.0,  # the corpus is mostly bad on purpose
    "min_tile_side": 32,
    "max_tile_megapixels": 40,
    "max_tile_bytes": 2_000_000,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, spark):
    base = tmp_path_factory.mktemp("corpus")
    root = (base / "train").resolve()
    write_corpus(root, base / "elsewhere")
    tiles = folder(root)
    listing, ignored, _ = list_labelled_tiles(tiles, folder(base / "none"), PARAMS)
    index, quarantine, summary = split_index_and_quarantine(
        probe_tiles(listing, tiles, PARAMS), listing, ignored, PARAMS
    )
    indexed = index.select("path", "label").toPandas().set_index("path")["label"]
    return root, tiles, indexed, quarantine.set_index("path")["reason"], ignored, summary


def test_there_are_at_least_30_kinds_of_bad_input():
    bad = [c for c in CASES if c.outcome != "tile" or c.name not in ("plain RGB PNG", "JPEG")]
    assert len(CASES) >= 35 and len(bad) >= 30
    assert len({c.relpath for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_case_gets_the_outcome_of_its_rule(corpus, case):
    root, tiles, indexed, quarantined, ignored, _ = corpus
    path = str(root / case.relpath)
    if case.outcome == "ignored":
        reasons = ignored.set_index("path")["reason"]
        assert path in reasons.index, f"{case.name} was not listed as ignored"
        assert case.reason in reasons[path]
        return
    if case.outcome == "quarantined" and case.stage == "ingest":
        assert path in quarantined.index and path not in indexed.index
        assert case.reason in quarantined[path]
        return
    assert path in indexed.index, f"{case.name} was not indexed: {quarantined.get(path)}"
    decoded = read_and_decode(tiles.storage, path, 224, TileLimits.of(PARAMS))
    if case.outcome == "quarantined":  # at decode: featurize quarantines it with the reason
        assert isinstance(decoded, str) and case.reason in decoded
    else:
        assert not isinstance(decoded, str), decoded
        assert decoded.shape == (224, 224, 3) and indexed[path] == case.label


def test_a_class_folder_linked_from_outside_is_refused_and_counts_reconcile(corpus):
    root, _, indexed, quarantined, ignored, summary = corpus
    assert not [p for p in indexed.index if f"/{SYMLINKED_CLASS}/" in p]
    reasons = ignored.set_index("path")["reason"]
    assert "symbolic link leaves the input folder" in reasons[str(root / SYMLINKED_CLASS)]
    assert "elsewhere" in reasons[str(root / SYMLINKED_CLASS)]  # the target is the reason
    expected = Counter(c.outcome if c.stage != "ingest" else "ingest" for c in CASES)
    good = 3 * len(GOOD_CLASSES)
    row = summary["train"]
    assert row["ignored"] == expected["ignored"] + 1 == len(ignored)
    assert row["quarantined"] == expected["ingest"] == len(quarantined)
    assert row["indexed"] == good + expected["tile"] + expected["quarantined"] == len(indexed)
    assert row["listed"] == row["quarantined"] + row["indexed"] + row["sampled_out"]
