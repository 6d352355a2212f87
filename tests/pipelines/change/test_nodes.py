import numpy as np
import pandas as pd
import pytest

from aerial_landuse.pipelines.change.nodes import (
    area_statistics,
    change_geopackage,
    change_summary,
    changed_tiles_geojson,
    evaluate_against_truth,
    match_tiles,
    review_changes,
    transition_tables,
)
from tests.conftest import parameters

CLASSES = ["Cultivated", "Developed", "Forest"]
DLAT, DLON = 0.002, 0.0027  # about 222 m x 222 m at 42.5 N
PARAMS = parameters("change") | {
    "before": "r2010",
    "after": "r2016",
    "labels": "raw",
    "min_confidence": 0.6,
    "threshold_sweep": [0.0, 0.6, 0.9],
    "match_on": "bounds",
    "max_offset_m": 30,
    "review_tiles": 5,
}


def _region(truth: np.ndarray, year: int, shaky: set = frozenset(), shift_m: float = 0.0):
    """Predictions of a grid whose labels are the truth; ``shaky`` cells get the wrong class
    with low confidence (classifier noise)."""
    rows = []
    for (r, c), label in np.ndenumerate(truth):
        north = 42.5 - r * DLAT + shift_m / 111_320
        west = -71.4 + c * DLON
        predicted, confidence = (
            (CLASSES[(CLASSES.index(label) + 1) % 3], 0.45)
            if (
                r,
                c,
            )
            in shaky
            else (label, 0.9)
        )
        probs = {
            f"prob_{k}": (confidence if k == predicted else (1 - confidence) / 2) for k in CLASSES
        }
        rows.append(
            {
                "id": f"t{year}_{r}_{c}.png",
                "filename": f"t{year}_{r}_{c}.png",
                "filepath": f"data/01_raw/r{year}/t{year}_{r}_{c}.png",
                "llcrnrlat": north - DLAT,
                "llcrnrlon": west,
                "urcrnrlat": north,
                "urcrnrlon": west + DLON,
                "pred_label": predicted,
                "confidence": confidence,
                **probs,
            }
        )
    frame = pd.DataFrame(rows)
    summaries = frame[["filename"]].assign(true_label=truth.ravel())
    return frame, summaries


@pytest.fixture
def years():
    before = np.full((6, 6), "Forest", dtype=object)
    before[:, 4:] = "Cultivated"
    after = before.copy()
    after[0:2, 0:3] = "Developed"  # 6 tiles of forest became developed
    after[5, 5] = "Developed"  # 1 field
    b, bs = _region(before, 2010, shaky={(4, 1)})  # noise in one year only
    a, as_ = _region(after, 2016, shaky={(3, 3), (5, 5)}, shift_m=8)  # grid 8 m off
    return b, bs, a, as_


def test_tiles_match_on_bounds_and_only_confident_change_counts(years):
    before, _, after, _ = years
    before = pd.concat(
        [before, before.iloc[[0]].assign(filename="lost.png", llcrnrlat=np.nan)], ignore_index=True
    )
    pairs, unmatched, counts = match_tiles(before, after.iloc[1:], PARAMS)
    assert counts == {
        "matched": 35,
        "only_before": 2,
        "only_after": 0,
        "before_tiles": 37,
        "after_tiles": 35,
    }
    assert set(unmatched["reason"]) == {
        "no bounds in tile_summaries.csv",
        "no tile at this place in r2016",
    }
    assert pairs["before_filename"].str[6:].equals(pairs["after_filename"].str[6:])  # same cell
    # changed: 5 (of 6: one unmatched) developed + 2 noise + 1 real but shaky; counted: 5
    assert pairs["changed"].sum() == 8 and pairs["counted_change"].sum() == 5
    assert pairs["became_developed"].sum() == 5
    tiles, km2 = transition_tables(pairs)
    t = tiles.set_index("from")
    assert t.loc["Forest", "Developed"] == 5 and t.to_numpy().sum() == pairs["confident"].sum()
    one_tile_km2 = pairs["area_km2"].iloc[0]
    assert one_tile_km2 == pytest.approx(0.2226 * 0.2219, rel=0.01)  # geodesic, not degrees
    assert km2.set_index("from").loc["Forest", "Developed"] == pytest.approx(
        5 * one_tile_km2, rel=1e-3
    )
    summary = change_summary(pairs, counts, PARAMS)
    assert summary["changed_tiles"] == 5 and summary["uncertain_tiles"] == 3


def test_filename_matching_and_a_missing_region_is_named(years):
    before, _, after, _ = years
    after = after.assign(filename=after["filename"].str.replace("2016", "2010"))
    pairs, _, counts = match_tiles(before, after, {**PARAMS, "match_on": "filename"})
    assert counts["matched"] == 36
    with pytest.raises(Exception, match="--params region=r2016"):
        match_tiles(before, after.iloc[0:0], PARAMS)


def test_detected_change_is_measured_against_the_truth(years):
    before, bs, after, as_ = years
    pairs, _, _ = match_tiles(before, after, PARAMS)
    evaluation = evaluate_against_truth(pairs, before, after, bs, as_, PARAMS)
    assert evaluation["true_changes"] == 7
    raw = evaluation["change"]["raw"]
    assert raw == {
        "detected": 6,
        "true_changes": 7,
        "precision": 1.0,
        "recall": pytest.approx(6 / 7, abs=1e-4),
    }
    sweep = {row["min_confidence"]: row for row in evaluation["threshold_sweep"]}
    assert sweep[0.0]["raw_detected"] == 9 and sweep[0.0]["raw_precision"] < 1  # noise counted
    assert evaluate_against_truth(pairs, before, after, None, as_, PARAMS) == {}


def test_area_statistics_outputs_and_review_queue(years):
    before, _, after, _ = years
    area = area_statistics(before, after, PARAMS).set_index("class")
    assert area["before_share"].sum() == pytest.approx(1) == area["after_share"].sum()
    assert area.loc["Developed", "change_km2"] > 0 and area["change_km2"].sum() == pytest.approx(
        0, abs=1e-3
    )
    pairs, _, _ = match_tiles(before, after, PARAMS)
    review = review_changes(pairs, PARAMS)
    assert len(review) == 5 and review["least_confidence"].is_monotonic_increasing
    geojson = changed_tiles_geojson(pairs)
    assert len(geojson["features"]) == pairs["counted_change"].sum()
    ring = geojson["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    layer = change_geopackage(pairs)
    assert len(layer) == 36 and layer.crs.to_epsg() == 4326
