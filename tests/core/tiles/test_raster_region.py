"""A raster region's record (grid, files, chip settings) survives JSON, and its cells are the
grid's squares over the imagery, with their corners in degrees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aerial_landuse.core.geometry.cell_grid import grid_of
from aerial_landuse.core.geometry.footprints import tile_area_km2
from aerial_landuse.core.tiles.demo_rasters import MosaicLayout, write_quads
from aerial_landuse.core.tiles.raster_cells import read_source_header
from aerial_landuse.core.tiles.raster_region import RasterRegion, cell_position

LAYOUT = MosaicLayout(quad_px=512, overlap_px=32, collar_px=8)  # 992 m x 512 m


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> RasterRegion:
    folder = tmp_path_factory.mktemp("region")
    classes = np.zeros((16, 31), dtype=int)
    paths = write_quads(folder, "quad", classes, 32.0, LAYOUT, seed=1)
    sources = tuple(read_source_header(str(p)) for p in paths)
    return RasterRegion(grid_of(list(sources), 224.0), sources, (3, 2, 1), 0.1, "bilinear")


def test_the_record_survives_json(region):
    record = json.loads(json.dumps(region.to_record()))
    assert RasterRegion.from_record(record) == region
    assert RasterRegion.from_record({}) is None and RasterRegion.from_record(None) is None
    settings = region.chip_settings(224)
    assert (settings.size, settings.bands, settings.max_nodata_share) == (224, (3, 2, 1), 0.1)


def test_cells_cover_the_imagery_with_their_corners_in_degrees(region):
    cells = region.cells()
    grid = region.grid
    # 310,000..310,992 m E and 4,699,488..4,700,000 m N: columns 1383..1388, rows 20979..20982
    assert (grid.col_min, grid.col_max, grid.row_min, grid.row_max) == (1383, 1388, 20979, 20982)
    assert len(cells) == grid.cells == 24 and cells["id"].is_unique
    assert cells["id"].iloc[0] == f"32619_{cells['col'].iloc[0]}_{cells['row'].iloc[0]}"
    assert cell_position(cells["id"].iloc[0]) == (cells["col"].iloc[0], cells["row"].iloc[0])
    assert (cells["llcrnrlat"] < cells["urcrnrlat"]).all()
    assert (cells["llcrnrlon"] < cells["urcrnrlon"]).all()
    assert cells["llcrnrlat"].between(42.4, 42.5).all()  # 4,700 km N in UTM 19N
    # each a 224 m square: the box in degrees around it is a little larger, as the square is
    # turned by the grid convergence (about 1.5 degrees 190 km west of the zone's meridian)
    areas = tile_area_km2(cells)
    assert (areas > 0.224**2).all() and (areas < 1.08 * 0.224**2).all()


def test_cells_away_from_every_file_are_not_listed(region):
    far = RasterRegion(
        grid_of(list(region.sources), 224.0, area=None).__class__(
            crs=region.grid.crs,
            cell_size=224.0,
            col_min=region.grid.col_min - 2,  # two columns west of the imagery
            col_max=region.grid.col_max,
            row_min=region.grid.row_min,
            row_max=region.grid.row_max,
        ),
        region.sources,
    )
    assert far.grid.cells == 32 and len(far.cells()) == 24
