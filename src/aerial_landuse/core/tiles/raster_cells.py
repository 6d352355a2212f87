"""Cells of a raster region, chipped where they are read: each task opens the files its cells
overlap once, and warps each cell's square straight from the file's windows to the network's
input size (GDAL's warper reads only the blocks, or overview levels, that the square needs).

One warp does the reprojection (a file in another UTM zone than the grid), the resampling
(0.6 m or 1 m pixels to ``size`` pixels per cell, whatever the cell's ground size) and the band
choice (R, G, B by default; any three, e.g. colour-infrared 4, 1, 2). A cell across the seam of
two adjacent files takes each pixel from the first file that has it. Pixels outside every
file's footprint, or the files' nodata, count towards the cell's nodata share; a cell with more
than ``max_nodata_share`` is reported with that reason, not read into the model.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from aerial_landuse.core.geometry.cell_grid import CellGrid, RasterSource, footprint_in

NODATA_REASON = "nodata"  # the quarantine reason of a cell with too many nodata pixels


@dataclass(frozen=True)
class ChipSettings:
    """How a cell becomes the network's input."""

    size: int  # pixels per side: the network's input size
    bands: tuple[int, int, int] = (1, 2, 3)  # 1-based band indexes, in the network's R, G, B order
    max_nodata_share: float = 0.05
    resampling: str = "average"  # rasterio's Resampling name; average suits downsampling

    def __post_init__(self) -> None:
        if len(self.bands) != 3 or min(self.bands) < 1:
            raise ValueError(f"bands must be three 1-based band indexes, not {self.bands}")
        if not 0.0 <= self.max_nodata_share <= 1.0:
            raise ValueError(f"max_nodata_share must lie in [0, 1], not {self.max_nodata_share}")


@dataclass(frozen=True)
class Chip:
    """A cell's pixels (``size`` x ``size`` x 3, uint8) and the share of them with no data; or
    the ``error`` that stopped it (the pixels are then None)."""

    pixels: np.ndarray | None
    nodata_share: float
    error: str | None = None


def parse_cell_id(cell: str) -> tuple[int, int, int]:
    """(EPSG code, col, row) of a cell id (``cell_grid.cell_id``)."""
    epsg, col, row = cell.split("_")
    return int(epsg), int(col), int(row)


def cell_decoder(
    grid: CellGrid,
    sources: list[RasterSource],
    settings: ChipSettings,
    opener: Callable[..., Any] | None = None,
) -> Callable[[str], np.ndarray | str]:
    """decode(cell id) for ``inference.featurize_batches``: the cell's pixels, or why it was not
    read. GDAL datasets are not shared between threads: each decode thread has its own reader."""
    local = threading.local()

    def decode(cell: str) -> np.ndarray | str:
        reader = getattr(local, "reader", None)
        if reader is None:
            reader = local.reader = CellReader(grid, sources, settings, opener)
        _, col, row = parse_cell_id(cell)
        chip = reader.read(col, row)
        return chip.pixels if chip.error is None else chip.error

    return decode


def read_source_header(url: str, opener: Callable[..., Any] | None = None) -> RasterSource:
    """The header of one GeoTIFF/COG (no pixel is read), or a ``ValueError`` naming the file and
    what is wrong with it."""
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(url, opener=opener) as dataset:
            if dataset.crs is None:
                raise ValueError(
                    f"{url} has no CRS: a georeferenced GeoTIFF/COG is needed (assign one with "
                    "`gdal_edit.py -a_srs EPSG:<code>` or `rio edit-info --crs`)."
                )
            return RasterSource(
                url=url,
                crs=dataset.crs.to_wkt(),
                bounds=tuple(dataset.bounds),
                resolution=tuple(dataset.res),
                band_count=dataset.count,
                dtype=dataset.dtypes[0],
                nodata=dataset.nodata,
            )
    except RasterioIOError as exc:
        raise ValueError(f"{url} is not a raster GDAL can read ({exc}).") from None


class FileError(Exception):
    """A file of the region could not be read for a cell (named, with GDAL's reason)."""


class RasterFiles:
    """The files of a region, seen in one CRS: each opened once (on first use) for the object's
    life, so use one per task or thread, with ``with``."""

    def __init__(
        self, sources: list[RasterSource], crs: str, opener: Callable[..., Any] | None = None
    ) -> None:
        self._sources, self._crs, self._opener = sources, crs, opener
        self._open: dict[str, Any] = {}
        self._footprints = {s.url: footprint_in(s, crs) for s in sources}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> RasterFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def warp(
        self,
        bounds: tuple[float, float, float, float],
        size: int,
        bands: tuple[int, ...],
        resampling: str,
        dtype: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(bands x size x size values, size x size valid) of the square ``bounds``, each pixel
        from the first file that has it; a ``FileError`` when a file cannot give it (or is not
        of ``dtype``)."""
        data = valid = None
        for source in self._overlapping(bounds):
            try:
                if dtype is not None and source.dtype != dtype:
                    raise ValueError(_depth_message(source.dtype))
                values, mask = self._warp_one(source, bounds, size, bands, resampling)
            except Exception as exc:
                raise FileError(f"{source.url}: {exc}") from exc
            if data is None:
                data, valid = np.zeros_like(values), np.zeros((size, size), dtype=bool)
            take = mask & ~valid
            data[:, take] = values[:, take]
            valid |= mask
            if valid.all():
                break
        if data is None:  # no file overlaps the square
            return np.zeros((len(bands), size, size), np.uint8), np.zeros((size, size), bool)
        return data, valid

    def _overlapping(self, bounds: tuple[float, float, float, float]) -> Iterator[RasterSource]:
        left, bottom, right, top = bounds
        for source in self._sources:
            f_left, f_bottom, f_right, f_top = self._footprints[source.url]
            if f_left < right and f_right > left and f_bottom < top and f_top > bottom:
                yield source

    def _warp_one(
        self,
        source: RasterSource,
        bounds: tuple[float, float, float, float],
        size: int,
        bands: tuple[int, ...],
        resampling: str,
    ) -> tuple[np.ndarray, np.ndarray]:
        from rasterio.enums import MaskFlags, Resampling
        from rasterio.errors import NodataShadowWarning
        from rasterio.transform import from_bounds
        from rasterio.vrt import WarpedVRT

        if max(bands) > source.band_count:
            raise ValueError(f"bands {list(bands)} need {max(bands)}, it has {source.band_count}")
        dataset = self._dataset(source)
        has_alpha = any(MaskFlags.alpha in flags for flags in dataset.mask_flag_enums)
        with WarpedVRT(
            dataset,
            crs=self._crs,
            transform=from_bounds(*bounds, size, size),
            width=size,
            height=size,
            resampling=Resampling[resampling],
            add_alpha=dataset.nodata is None and not has_alpha,  # else nodata marks the void
        ) as vrt:
            with warnings.catch_warnings():  # a nodata file's VRT: nodata is the mask, as meant
                warnings.simplefilter("ignore", NodataShadowWarning)
                data = vrt.read(indexes=list(bands), masked=True)  # the void: nodata or alpha 0
        return np.ma.getdata(data), ~np.ma.getmaskarray(data).any(axis=0)

    def _dataset(self, source: RasterSource) -> Any:
        if source.url not in self._open:
            import rasterio

            dataset = rasterio.open(source.url, opener=self._opener)
            self._open[source.url] = self._stack.enter_context(dataset)
        return self._open[source.url]


class CellReader:
    """Reads the chips of ``grid``'s cells from ``sources`` (``RasterFiles``: use with ``with``)."""

    def __init__(
        self,
        grid: CellGrid,
        sources: list[RasterSource],
        settings: ChipSettings,
        opener: Callable[..., Any] | None = None,
    ) -> None:
        self._grid, self._settings = grid, settings
        self._files = RasterFiles(sources, grid.crs, opener)

    def __enter__(self) -> CellReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._files.__exit__(*exc)

    def read(self, col: int, row: int) -> Chip:
        """The chip of cell ``(col, row)``."""
        settings = self._settings
        try:
            pixels, valid = self._files.warp(
                self._grid.bounds(col, row),
                settings.size,
                settings.bands,
                settings.resampling,
                dtype="uint8",
            )
        except FileError as exc:  # a broken file stops its cells, not the task
            return Chip(None, 1.0, f"unreadable: {exc}")
        share = 1.0 - float(valid.mean())
        if share > settings.max_nodata_share:
            return Chip(None, share, f"{NODATA_REASON}: {share:.0%} of the cell has no data")
        return Chip(np.ascontiguousarray(pixels.transpose(1, 2, 0)), share)


def _depth_message(dtype: str) -> str:
    return (
        f"its pixels are {dtype}; 8-bit imagery (NAIP's) is read as is: convert other depths "
        "with `gdal_translate -ot Byte -scale`"
    )
