"""A region given as GeoTIFF/COG files: its grid of cells, its files' headers and how a cell
becomes the network's input, as one record that ingest writes (JSON, through the catalog) and
featurize, score and report read back. The cells themselves are read on the executors
(``raster_cells``); this record is all they need besides the files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from aerial_landuse.core.contracts import BOUND_COLUMNS
from aerial_landuse.core.geometry.cell_grid import CellGrid, RasterSource, cell_id, footprint_in
from aerial_landuse.core.tiles.raster_cells import ChipSettings, parse_cell_id

# The region record's key for its grid's cell counts: grid_cells = listed + outside_imagery +
# outside_area (ingest writes it, the accounting checks it).
GRID_COUNTS = "cell_counts"


@dataclass(frozen=True)
class RasterRegion:
    """The grid of a raster region, its files, and the band choice, nodata limit and resampling
    of its chips (the chip's size is the network's, known at featurize)."""

    grid: CellGrid
    sources: tuple[RasterSource, ...]
    bands: tuple[int, int, int] = (1, 2, 3)
    max_nodata_share: float = 0.05
    resampling: str = "average"

    def chip_settings(self, size: int) -> ChipSettings:
        return ChipSettings(size, self.bands, self.max_nodata_share, self.resampling)

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (the catalog's ``<tile set>_raster_region``)."""
        return {
            "grid": asdict(self.grid),
            "sources": [asdict(source) for source in self.sources],
            "bands": list(self.bands),
            "max_nodata_share": self.max_nodata_share,
            "resampling": self.resampling,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> RasterRegion | None:
        """The region of a record, or None for an empty one (a region of tile files)."""
        if not record:
            return None
        sources = tuple(RasterSource.from_record(source) for source in record["sources"])
        return cls(
            grid=CellGrid(**record["grid"]),
            sources=sources,
            bands=tuple(record["bands"]),  # type: ignore[arg-type]
            max_nodata_share=float(record["max_nodata_share"]),
            resampling=record["resampling"],
        )

    def cells(self) -> pd.DataFrame:
        """The grid's cells that overlap at least one file's footprint (the others hold no
        imagery): ``id`` (the cell id), ``col``, ``row`` and the cell's corners in decimal
        degrees (``BOUND_COLUMNS``: the bounding box of its square in WGS84)."""
        grid = self.grid
        cols, rows = np.meshgrid(
            np.arange(grid.col_min, grid.col_max + 1), np.arange(grid.row_min, grid.row_max + 1)
        )
        cols, rows = cols.ravel(), rows.ravel()
        size = grid.cell_size
        left, bottom = cols * size, rows * size
        inside = np.zeros(len(cols), dtype=bool)
        for source in self.sources:
            f_left, f_bottom, f_right, f_top = footprint_in(source, grid.crs)
            overlaps = (left < f_right) & (left + size > f_left)
            inside |= overlaps & (bottom < f_top) & (bottom + size > f_bottom)
        cols, rows, left, bottom = cols[inside], rows[inside], left[inside], bottom[inside]
        corners = _corners_in_degrees(grid.crs, left, bottom, size)
        ids = [cell_id(grid.epsg, int(c), int(r)) for c, r in zip(cols, rows, strict=True)]
        return pd.DataFrame({"id": ids, "col": cols, "row": rows, **corners})


def in_area(grid: CellGrid, cells: list[str], area: Any) -> np.ndarray:
    """Whether each cell's square shares ground with ``area`` (a shapely geometry in the grid's
    CRS); a cell that only touches its outline is outside."""
    import shapely

    squares = cell_squares(grid, cells)
    shapely.prepare(area)
    return shapely.intersects(area, squares) & ~shapely.touches(area, squares)


def cell_squares(grid: CellGrid, cells: list[str]) -> Any:
    """The exact squares of ``cells`` (ids) in the grid's CRS, as shapely polygons."""
    import shapely

    positions = np.array([parse_cell_id(cell)[1:] for cell in cells], dtype=float).reshape(-1, 2)
    left, bottom = positions[:, 0] * grid.cell_size, positions[:, 1] * grid.cell_size
    return shapely.box(left, bottom, left + grid.cell_size, bottom + grid.cell_size)


def _corners_in_degrees(
    crs: str, left: np.ndarray, bottom: np.ndarray, size: float
) -> dict[str, np.ndarray]:
    """Each square's bounding box in WGS84 (decimal degrees), from its four corners."""
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    xs = np.stack([left, left + size, left + size, left])
    ys = np.stack([bottom, bottom, bottom + size, bottom + size])
    lon, lat = to_wgs84.transform(xs, ys)
    south, west, north, east = lat.min(0), lon.min(0), lat.max(0), lon.max(0)
    return dict(zip(BOUND_COLUMNS, (south, west, north, east), strict=True))


def cell_position(cell: str) -> tuple[int, int]:
    """(col, row) of a cell id."""
    _, col, row = parse_cell_id(cell)
    return col, row
