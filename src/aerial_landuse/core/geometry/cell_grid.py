"""The grid of a raster region: square cells of ``cell_size`` metres in one projected CRS, their
edges on multiples of the cell size, so that two years of the same place share cells exactly.

Cell ``(col, row)`` covers x in ``[col * size, (col + 1) * size)`` and y in
``[row * size, (row + 1) * size)`` of the grid's CRS (``row`` grows northwards), whatever the
rasters' own pixel grids are; its id names the CRS and both indices, e.g. ``32619_1067_20896``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyproj import CRS

from aerial_landuse.core.errors import UserInputError


@dataclass(frozen=True)
class RasterSource:
    """One GeoTIFF/COG of a region, as its header describes it (read on the driver, once)."""

    url: str
    crs: str  # WKT of the file's CRS
    bounds: tuple[float, float, float, float]  # (left, bottom, right, top) in ``crs``
    resolution: tuple[float, float]
    band_count: int
    dtype: str
    nodata: float | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RasterSource:
        """The source of its JSON record (``dataclasses.asdict``'s, tuples read back as lists)."""
        return cls(
            **{
                **record,
                "bounds": tuple(record["bounds"]),
                "resolution": tuple(record["resolution"]),
            }
        )


@dataclass(frozen=True)
class CellGrid:
    """Cells ``col_min..col_max`` x ``row_min..row_max`` (inclusive) of ``cell_size`` metres."""

    crs: str  # "EPSG:<code>": every cell square is in this CRS
    cell_size: float
    col_min: int
    col_max: int
    row_min: int
    row_max: int

    @property
    def epsg(self) -> int:
        return int(self.crs.split(":", 1)[1])

    @property
    def cols(self) -> int:
        return self.col_max - self.col_min + 1

    @property
    def rows(self) -> int:
        return self.row_max - self.row_min + 1

    @property
    def cells(self) -> int:
        return self.cols * self.rows

    def bounds(self, col: int, row: int) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of cell ``(col, row)`` in the grid's CRS."""
        size = self.cell_size
        return (col * size, row * size, (col + 1) * size, (row + 1) * size)

    def cell_id(self, col: int, row: int) -> str:
        return cell_id(self.epsg, col, row)

    def transform(self) -> Any:
        """The affine transform of a raster with one pixel per cell (north up)."""
        from rasterio.transform import from_origin

        size = self.cell_size
        return from_origin(self.col_min * size, (self.row_max + 1) * size, size, size)

    def pixel(self, col: int, row: int) -> tuple[int, int]:
        """(raster row, raster column) of cell ``(col, row)`` in that raster (row 0 is north)."""
        return self.row_max - row, col - self.col_min


def cell_id(epsg: int, col: int, row: int) -> str:
    """The id of a cell: the same for the same ground square in every year and region."""
    return f"{epsg}_{col}_{row}"


def split_of(col: int, row: int, block_cells: int, test_share: float, seed: int) -> str:
    """ "train" or "test" for a cell, by its spatial block of ``block_cells`` x ``block_cells``
    cells: neighbouring cells (whose imagery overlaps in content) never sit on both sides. The
    block's side is drawn from a hash of (seed, block), so the split is the same in every run."""
    block = (col // block_cells, row // block_cells)
    digest = hashlib.sha256(f"{seed}:{block[0]}:{block[1]}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < test_share else "train"


def grid_crs(sources: list[RasterSource], epsg: int | None = None) -> str:
    """The grid's CRS: ``epsg`` when given, else the first file's; it must be projected in
    metres, since cells are square metres on the ground."""
    crs = CRS.from_epsg(epsg) if epsg else CRS.from_wkt(sources[0].crs)
    code = crs.to_epsg()
    if not crs.is_projected or code is None or crs.axis_info[0].unit_name not in ("metre", "m"):
        where = f"EPSG:{epsg}" if epsg else f"the CRS of {sources[0].url}"
        raise UserInputError(
            f"The cell grid needs a projected CRS in metres with an EPSG code; {where} is "
            f"{crs.name!r}. Set raster.crs to one, e.g. 32619 (UTM zone 19N) or 5070 (CONUS Albers)."
        )
    return f"EPSG:{code}"


def grid_of(
    sources: list[RasterSource],
    cell_size: float,
    epsg: int | None = None,
    area: tuple[float, float, float, float] | None = None,
) -> CellGrid:
    """The snapped grid that covers every source (and, when given, only the ``area`` of
    interest's bounds, in the grid's CRS)."""
    if not sources:
        raise UserInputError("A raster region needs at least one GeoTIFF/COG file.")
    if cell_size <= 0:
        raise UserInputError(f"raster.tile_size_m must be positive, not {cell_size}.")
    crs = grid_crs(sources, epsg)
    left, bottom, right, top = _union(footprint_in(s, crs) for s in sources)
    if area is not None:
        left, bottom = max(left, area[0]), max(bottom, area[1])
        right, top = min(right, area[2]), min(top, area[3])
        if left >= right or bottom >= top:
            raise UserInputError(
                f"The area of interest {area} ({crs}) does not overlap the rasters "
                f"({', '.join(s.url for s in sources[:3])}{'...' if len(sources) > 3 else ''})."
            )
    return CellGrid(
        crs=crs,
        cell_size=float(cell_size),
        col_min=math.floor(left / cell_size),
        col_max=math.ceil(right / cell_size) - 1,
        row_min=math.floor(bottom / cell_size),
        row_max=math.ceil(top / cell_size) - 1,
    )


def common_grid(first: CellGrid, second: CellGrid, names: tuple[str, str]) -> CellGrid:
    """The grid that covers both (two years of one place), which must share their cells: the
    same CRS and cell size; else a ``UserInputError`` naming both regions."""
    if (first.crs, first.cell_size) != (second.crs, second.cell_size):
        raise UserInputError(
            f"The regions {names[0]} ({first.crs}, {first.cell_size:g} m cells) and {names[1]} "
            f"({second.crs}, {second.cell_size:g} m cells) are on different grids: score both "
            "with the same ingest.raster.crs and ingest.raster.tile_size_m to compare them cell "
            "by cell."
        )
    return CellGrid(
        crs=first.crs,
        cell_size=first.cell_size,
        col_min=min(first.col_min, second.col_min),
        col_max=max(first.col_max, second.col_max),
        row_min=min(first.row_min, second.row_min),
        row_max=max(first.row_max, second.row_max),
    )


def footprint_in(source: RasterSource, crs: str) -> tuple[float, float, float, float]:
    """The source's bounds in ``crs`` (densified edges: a UTM zone's square is curved elsewhere)."""
    from rasterio.warp import transform_bounds

    return tuple(transform_bounds(source.crs, crs, *source.bounds, densify_pts=21))  # type: ignore[return-value]


def _union(boxes: Iterable[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    left, bottom, right, top = zip(*boxes, strict=True)
    return min(left), min(bottom), max(right), max(top)
