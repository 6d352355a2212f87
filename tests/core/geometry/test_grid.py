import math

import pytest

from aerial_landuse.core.geometry.grid import neighbourhood, smooth_probabilities

DLAT, DLON = 0.002, 0.0027


def _tiles(spark, odd_one=(2, 2), size=5, without_bounds=False):
    rows = []
    for r in range(size):
        for c in range(size):
            a = 0.4 if (r, c) == odd_one else 0.8
            north, west = 42.5 - r * DLAT, -71.4 + c * DLON
            rows.append((f"r{r}c{c}", north - DLAT, west, north, west + DLON, a, 1 - a))
    if without_bounds:
        rows.append(("lost", None, None, None, None, 0.3, 0.7))
    return spark.createDataFrame(
        rows,
        "id string, llcrnrlat double, llcrnrlon double, urcrnrlat double, urcrnrlon double, "
        "prob_A double, prob_B double",
    )


PROBS = {"A": "prob_A", "B": "prob_B"}


def test_a_lone_odd_tile_takes_its_neighbours_class_and_raw_values_are_kept(spark):
    smoothed = {
        r["id"]: r
        for r in smooth_probabilities(_tiles(spark, without_bounds=True), PROBS, 1).collect()
    }
    centre = smoothed["r2c2"]
    assert centre["prob_A"] == 0.4  # raw kept
    assert centre["smoothed_label"] == "A" and centre["smoothed_prob_A"] > 0.6
    assert (centre["grid_row"], centre["grid_col"]) == (2, 2)
    weights = neighbourhood(1, "gaussian", 1.0)
    expected = sum(w * (0.4 if dr == dc == 0 else 0.8) for dr, dc, w in weights) / sum(
        w for *_, w in weights
    )
    assert centre["smoothed_prob_A"] == pytest.approx(expected)
    assert smoothed["r0c0"]["smoothed_prob_A"] == pytest.approx(0.8)  # edge: fewer neighbours
    lost = smoothed["lost"]
    assert lost["smoothed_label"] == "B" and lost["smoothed_confidence"] == pytest.approx(0.7)
    assert lost["grid_row"] is None


def test_radius_zero_is_the_raw_prediction(spark):
    for row in smooth_probabilities(_tiles(spark), PROBS, 0).collect():
        assert row["smoothed_prob_A"] == pytest.approx(row["prob_A"])
        assert row["smoothed_label"] == ("A" if row["prob_A"] > 0.5 else "B")


def test_gaussian_and_uniform_weights():
    assert len(neighbourhood(2, "uniform", 1.0)) == 25
    assert {w for *_, w in neighbourhood(1, "uniform", 1.0)} == {1.0}
    corner = dict(((dr, dc), w) for dr, dc, w in neighbourhood(1, "gaussian", 1.0))[(1, 1)]
    assert corner == pytest.approx(math.exp(-1))


def test_the_split_goes_by_spatial_blocks_and_is_the_same_every_run():
    from aerial_landuse.core.geometry.cell_grid import split_of

    sides = {(c, r): split_of(c, r, 4, 0.3, seed=7) for c in range(40) for r in range(40)}
    for (c, r), side in sides.items():  # every cell of a 4 x 4 block on the same side
        assert side == sides[(c // 4 * 4, r // 4 * 4)]
    share = sum(s == "test" for s in sides.values()) / len(sides)
    assert 0.15 < share < 0.45 and sides == {
        (c, r): split_of(c, r, 4, 0.3, seed=7) for c in range(40) for r in range(40)
    }
    assert sides != {(c, r): split_of(c, r, 4, 0.3, seed=8) for c in range(40) for r in range(40)}
