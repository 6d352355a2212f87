"""The synthetic NAIP-like region: 4-band COG quads in UTM with nodata collars whose overlap shows
the same ground, and an NLCD-like land-cover raster in Albers that labels the cells they make."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from aerial_landuse.core.geometry.cell_grid import grid_of
from aerial_landuse.core.tiles.cog import is_valid_cog
from aerial_landuse.core.tiles.demo_rasters import (
    LAND_COVER_CRS,
    MosaicLayout,
    code_of_each_class,
    land_cover_layer,
    write_quads,
)
from aerial_landuse.core.tiles.demo_textures import LAND_USE_CLASSES
from aerial_landuse.core.tiles.land_cover import LabelRule, LandCoverLabeller
from aerial_landuse.core.tiles.raster_cells import CellReader, ChipSettings, read_source_header

# NLCD's codes (a class table as a user would write it): water and wetlands excluded
TABLE = {11: None, 21: "Developed", 22: "Developed", 31: "Barren", 41: "Forest", 42: "Forest",
         52: "Shrub", 71: "Herbaceous", 81: "Cultivated", 82: "Cultivated", 90: None}  # fmt: skip
LAYOUT = MosaicLayout(quad_px=512, overlap_px=32, collar_px=8)  # 992 m x 512 m from 310 km E
BLOCK_M = 32.0
FOREST, DEVELOPED = LAND_USE_CLASSES.index("Forest"), LAND_USE_CLASSES.index("Developed")
WETLAND = (90, 310_100.0, 4_699_600.0)  # in the forest, south-west
# cells of the 224 m grid (UTM 19N): fully forest, fully developed, across the quads' seam
FOREST_CELL, DEVELOPED_CELL, SEAM_CELL = (1384, 20981), (1387, 20981), (1386, 20981)


def _classes() -> np.ndarray:
    """Forest west of 480 m, developed east of it (32 m blocks, north row first)."""
    classes = np.full((16, 31), DEVELOPED)
    classes[:, :15] = FOREST
    return classes


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo_region")
    quads = write_quads(folder, "naip_2016", _classes(), BLOCK_M, LAYOUT, seed=7)
    cover = land_cover_layer(_classes(), BLOCK_M, LAYOUT, TABLE, WETLAND).write(folder / "nlcd.tif")
    return quads, cover


def test_the_quads_are_naip_like_cogs_side_by_side(region):
    quads, _ = region
    assert [p.name for p in quads] == ["naip_2016_0.tif", "naip_2016_1.tif"]
    for index, path in enumerate(quads):
        assert is_valid_cog(path)
        with rasterio.open(path) as quad:
            assert (quad.count, quad.dtypes[0], quad.nodata) == (4, "uint8", 0)
            assert quad.crs.to_epsg() == 32619 and quad.res == (1.0, 1.0)
            assert quad.bounds.left == 310_000 + index * 480 and quad.bounds.top == 4_700_000
            data = quad.read()
        assert (data[:, :8, :] == 0).all() and (data[:, :, -8:] == 0).all()  # the collars
        assert (data[:, 8:-8, 8:-8].max(axis=0) > 0).all()  # no hole inside


def test_the_overlap_of_two_quads_shows_the_same_ground(region):
    quads, _ = region
    with rasterio.open(quads[0]) as west, rasterio.open(quads[1]) as east:
        west_part = west.read(window=((8, 504), (488, 504)))  # x 310488..310504, off collars
        east_part = east.read(window=((8, 504), (8, 24)))
    assert np.array_equal(west_part, east_part)


def test_cells_read_whole_across_the_seam_and_nir_tells_vegetation(region):
    quads, _ = region
    sources = [read_source_header(str(p)) for p in quads]
    grid = grid_of(sources, 224.0)
    with CellReader(grid, sources, ChipSettings(32, bands=(4, 1, 2))) as reader:
        seam, forest, developed = (
            reader.read(*cell) for cell in (SEAM_CELL, FOREST_CELL, DEVELOPED_CELL)
        )
    assert seam.error is None and seam.nodata_share == 0
    assert forest.pixels[..., 0].mean() > developed.pixels[..., 0].mean() + 80  # NIR


def test_the_land_cover_is_nlcd_like_and_labels_the_cells(region):
    quads, cover = region
    with rasterio.open(cover) as raster:
        assert raster.crs.to_string() == LAND_COVER_CRS and raster.res == (30.0, 30.0)
        codes = set(np.unique(raster.read(1)).tolist())
    assert codes == {0, 21, 41, 90}  # nodata, Developed (21), Forest (41), the wetland
    sources = [read_source_header(str(p)) for p in quads]
    grid = grid_of(sources, 224.0)
    labeller = LandCoverLabeller(grid, [read_source_header(str(cover))], LabelRule(TABLE, 0.9))
    with labeller:
        forest, developed = labeller.label(*FOREST_CELL), labeller.label(*DEVELOPED_CELL)
        wetland = labeller.label(1384, 20980)  # the cell the wetland patch covers most of
    assert (forest.label, developed.label) == ("Forest", "Developed")
    assert wetland.label is None


def test_each_class_is_drawn_with_the_lowest_code_the_table_gives_it():
    assert code_of_each_class(TABLE) == {
        "Developed": 21, "Barren": 31, "Forest": 41, "Shrub": 52, "Herbaceous": 71,
        "Cultivated": 81,
    }  # fmt: skip
    with pytest.raises(ValueError, match="maps no land-cover code to Shrub"):
        code_of_each_class({k: v for k, v in TABLE.items() if v != "Shrub"})


def test_a_layout_whose_overlap_cannot_hold_both_collars_is_refused():
    with pytest.raises(ValueError, match="overlap must hold both collars"):
        MosaicLayout(overlap_px=10, collar_px=8)
