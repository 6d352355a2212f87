"""Cell labels from an NLCD-like land-cover raster in its own projection (Albers, 30 m): the
majority class when it is pure enough, otherwise the reason; water and unknown codes excluded."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer
from rasterio.transform import from_origin

from aerial_landuse.core.geometry.cell_grid import CellGrid
from aerial_landuse.core.tiles.cog import write_cog
from aerial_landuse.core.tiles.land_cover import (
    LabelRule,
    LandCoverLabeller,
    label_of,
    polygon_labels,
)
from aerial_landuse.core.tiles.raster_cells import read_source_header

ALBERS = "EPSG:5070"  # NLCD's own CRS
RULE = LabelRule({11: None, 21: "Developed", 41: "Forest", 82: "Cultivated", 90: None}, 0.6)
GRID = CellGrid("EPSG:32619", 224.0, 1339, 1343, 20976, 20980)  # UTM 19N, near (300 km, 4700 km)


def test_the_majority_class_when_it_covers_enough_of_the_cell():
    forest, developed = np.full(70, 41), np.full(30, 21)
    labelled = label_of(np.concatenate([forest, developed]), RULE, 100)
    assert labelled.label == "Forest" and labelled.purity == pytest.approx(0.7)
    mixed = label_of(np.concatenate([np.full(50, 41), np.full(50, 21)]), RULE, 100)
    assert mixed.label is None and mixed.reason.startswith("mixed: ") and "60%" in mixed.reason
    water = label_of(np.full(100, 11), RULE, 100)
    assert water.label is None and "code 11 is excluded by the class table" in water.reason
    unknown = label_of(np.full(100, 99), RULE, 100)
    assert "code 99 is not in the class table" in unknown.reason
    edge = label_of(np.full(40, 41), RULE, 100)  # the land cover's edge: 60 points outside it
    assert edge.label is None and edge.reason.startswith(
        "partly outside the land cover: it covers 40%"
    )
    nothing = label_of(np.array([], int), RULE, 100)
    assert nothing.reason.startswith("no land cover")


def test_cells_are_labelled_from_a_raster_in_another_projection(tmp_path):
    """West half of the grid forest, east half developed, in Albers: each cell's label is what
    lies under it once warped onto the UTM grid."""
    boundary_x = 1341 * 224.0 + 112  # the middle of column 1341, in UTM 19N
    to_albers = Transformer.from_crs("EPSG:32619", ALBERS, always_xy=True)
    to_utm = Transformer.from_crs(ALBERS, "EPSG:32619", always_xy=True)
    left, top = to_albers.transform(1338 * 224.0, 20982 * 224.0)
    left, top = left - 2000, top + 2000
    xs, ys = np.meshgrid(left + (np.arange(200) + 0.5) * 30, top - (np.arange(200) + 0.5) * 30)
    utm_x, _ = to_utm.transform(xs, ys)
    codes = np.where(utm_x < boundary_x, 41, 21).astype(np.uint8)[None]
    raster = write_cog(tmp_path / "nlcd.tif", codes, ALBERS, from_origin(left, top, 30, 30), 0,
                       overview_resampling="mode")  # fmt: skip
    with LandCoverLabeller(GRID, [read_source_header(str(raster))], RULE) as labeller:
        west, east = labeller.label(1339, 20978), labeller.label(1343, 20978)
        straddling = labeller.label(1341, 20978)
        outside = LandCoverLabeller(GRID, [], RULE).label(1339, 20978)
    assert (west.label, east.label) == ("Forest", "Developed")
    assert west.purity == pytest.approx(1.0) and east.purity == pytest.approx(1.0)
    assert straddling.label is None and straddling.purity == pytest.approx(0.5, abs=0.05)
    assert outside.reason.startswith("no land cover")


def test_cells_take_the_class_of_the_polygons_that_cover_most_of_them():
    """Areas measured exactly: two Forest polygons count together, a cell 70 % Forest and 30 %
    Developed is Forest at purity 0.7, one half and half is mixed, one outside every polygon
    says so."""
    import shapely

    squares = np.array([shapely.box(x, 0, x + 10, 10) for x in (0, 20, 40, 60)])
    polygons = np.array([
        shapely.box(0, 0, 5, 10), shapely.box(5, 0, 27, 10),  # forest: cell 0 and 70 % of cell 1
        shapely.box(27, 0, 45, 10),                            # developed: 30 % of 1, half of 2
    ])  # fmt: skip
    classes = np.array(["Forest", "Forest", "Developed"])
    whole, most, mixed, outside = polygon_labels(squares, polygons, classes, 0.6)
    assert (whole.label, whole.purity) == ("Forest", pytest.approx(1.0))
    assert (most.label, most.purity) == ("Forest", pytest.approx(0.7))
    assert mixed.label is None and mixed.reason.startswith("mixed: Developed covers 50%")
    assert outside.label is None and outside.reason.startswith("no label polygon")
