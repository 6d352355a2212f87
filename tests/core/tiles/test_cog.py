"""The classified and probability rasters: valid COGs in the grid's CRS, one pixel per cell in
the right place, the class colours and names in the file, nodata where a cell was not scored."""

from __future__ import annotations

import numpy as np
import rasterio

from aerial_landuse.core.geometry.cell_grid import CellGrid
from aerial_landuse.core.tiles.cog import (
    CLASS_NODATA,
    PROBABILITY_NODATA,
    is_valid_cog,
    write_class_cog,
    write_probability_cog,
)

GRID = CellGrid("EPSG:32619", 224.0, 100, 139, 2000, 2029)  # 40 x 30 cells
CLASSES = ["Developed", "Forest"]
COLOURS = {"Developed": "#d62728", "Forest": "#2ca02c"}


def test_the_class_raster_holds_each_cell_at_its_place_with_colours_and_names(tmp_path):
    cells = [(100, 2029, "Forest"), (139, 2000, "Developed"), (120, 2010, "Forest")]
    path = write_class_cog(tmp_path / "classes.tif", GRID, cells, CLASSES, COLOURS)
    assert is_valid_cog(path)
    with rasterio.open(path) as raster:
        assert raster.crs.to_epsg() == 32619 and (raster.width, raster.height) == (40, 30)
        assert raster.res == (224.0, 224.0) and raster.nodata == CLASS_NODATA
        codes = raster.read(1)
        for col, row, label in cells:  # the pixel under each cell's centre holds its class
            left, bottom, right, top = GRID.bounds(col, row)
            y, x = raster.index((left + right) / 2, (bottom + top) / 2)
            assert codes[y, x] == CLASSES.index(label) + 1
        assert (codes == CLASS_NODATA).sum() == 40 * 30 - 3
        assert raster.colormap(1)[2] == (44, 160, 44, 255)
        assert raster.tags(1)["CLASS_2"] == "Forest"


def test_the_probability_raster_has_a_named_band_per_class(tmp_path):
    path = write_probability_cog(tmp_path / "p.tif", GRID, [(100, 2029, [0.25, 0.75])], CLASSES)
    assert is_valid_cog(path)
    with rasterio.open(path) as raster:
        assert raster.descriptions == tuple(CLASSES) and raster.dtypes[0] == "float32"
        assert np.allclose(raster.read()[:, 0, 0], [0.25, 0.75])
        assert raster.read(1)[5, 5] == PROBABILITY_NODATA == raster.nodata
