"""Cloud-Optimized GeoTIFFs written with rio-cogeo: internally tiled, with overviews, validated.

Used for the classified rasters a region's scores become and for the synthetic NAIP-like demo
quads; rio-cogeo does the COG layout (tiles, overviews, header first), not this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aerial_landuse.core.geometry.cell_grid import CellGrid


def write_cog(
    path: Path,
    pixels: np.ndarray,
    crs: str,
    transform: Any,
    nodata: float | None = None,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    band_names: list[str] | None = None,
    overview_resampling: str = "average",
    band_tags: Mapping[str, str] | None = None,
    cog_profile: str = "deflate",
) -> Path:
    """Write ``pixels`` (bands x rows x cols) as a COG at ``path``, compressed by rio-cogeo's
    ``cog_profile`` (deflate, lossless; ``jpeg`` for 3-band imagery, whose nodata becomes an
    internal mask); a ``colormap`` (value -> RGBA) and ``band_tags`` go into the file for a
    one-band class raster."""
    from rasterio.io import MemoryFile
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.errors import NodataAlphaMaskWarning
    from rio_cogeo.profiles import cog_profiles

    bands, height, width = pixels.shape
    profile = {
        "driver": "GTiff",
        "dtype": pixels.dtype.name,
        "count": bands,
        "height": height,
        "width": width,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as staged:
            staged.write(pixels)
            for index, name in enumerate(band_names or [], start=1):
                staged.set_band_description(index, name)
            if band_tags:
                staged.update_tags(1, **band_tags)
        with memory.open() as source, warnings.catch_warnings():
            # GDAL reports a nodata mask of an in-memory file as a per-dataset one; nodata rules
            warnings.simplefilter("ignore", NodataAlphaMaskWarning)
            # a class raster's colour table makes its band a palette, as meant
            warnings.filterwarnings("ignore", "Dataset color interpretation was set to `Palette`")
            # a lossy (jpeg) COG keeps its void as an internal mask, as meant
            warnings.filterwarnings("ignore", "Nodata/Alpha band will be translated")
            cog_translate(
                source,
                str(path),
                cog_profiles.get(cog_profile),
                overview_resampling=overview_resampling,
                colormap=colormap,
                in_memory=True,
                quiet=True,
                forward_band_tags=True,
            )
    return path


CLASS_NODATA = 0  # class rasters: codes 1..n, 0 where a cell was not scored
PROBABILITY_NODATA = -1.0


@dataclass(frozen=True)
class CogLayer:
    """A raster to be written as a COG: ``pixels`` (bands x rows x cols) in ``crs``, with its
    nodata, band names and, for a class raster, colour table and band tags (``write_cog``)."""

    pixels: np.ndarray
    crs: str
    transform: Any
    nodata: float | None = None
    colormap: dict[int, tuple[int, int, int, int]] | None = None
    band_names: list[str] | None = None
    overview_resampling: str = "average"
    band_tags: Mapping[str, str] | None = None

    def write(self, path: Path) -> Path:
        return write_cog(
            path, self.pixels, self.crs, self.transform, self.nodata, self.colormap,
            self.band_names, self.overview_resampling, self.band_tags,
        )  # fmt: skip


def class_layer(
    grid: CellGrid,
    cells: Iterable[tuple[int, int, str]],
    classes: list[str],
    colours: Mapping[str, str],
) -> CogLayer:
    """One pixel per cell of ``grid``: the code (1-based index in ``classes``) of each cell's class,
    ``CLASS_NODATA`` elsewhere; the colour table holds ``colours`` (hex), the tags the names."""
    codes = np.full((1, grid.rows, grid.cols), CLASS_NODATA, np.uint8)
    number = {name: code for code, name in enumerate(classes, start=1)}
    for col, row, label in cells:
        codes[(0, *grid.pixel(col, row))] = number[label]
    palette = {code: (*_rgb(colours[name]), 255) for name, code in number.items()}
    palette[CLASS_NODATA] = (0, 0, 0, 0)
    names = {f"CLASS_{code}": name for name, code in number.items()}
    return CogLayer(codes, grid.crs, grid.transform(), CLASS_NODATA, palette, ["land use"],
                    overview_resampling="mode", band_tags=names)  # fmt: skip


def probability_layer(
    grid: CellGrid, cells: Iterable[tuple[int, int, list[float]]], classes: list[str]
) -> CogLayer:
    """One pixel per cell, one float32 band per class (named): each cell's class probabilities,
    ``PROBABILITY_NODATA`` where it was not scored."""
    bands = np.full((len(classes), grid.rows, grid.cols), PROBABILITY_NODATA, np.float32)
    for col, row, probabilities in cells:
        bands[(slice(None), *grid.pixel(col, row))] = probabilities
    return CogLayer(bands, grid.crs, grid.transform(), PROBABILITY_NODATA, None, list(classes))


UNCERTAIN_CHANGE = 255  # change rasters: a change that is not confident in both years


def change_code(before: int, after: int, classes: int) -> int:
    """The change raster's code of a cell that went from class index ``before`` to ``after``."""
    return 1 + before * classes + after


def change_layer(
    grid: CellGrid,
    cells: Iterable[tuple[int, int, str, str, bool]],
    classes: list[str],
    colours: Mapping[str, str],
    uncertain: str,
    unchanged: str,
) -> CogLayer:
    """One pixel per cell: ``change_code(from, to)`` of each (col, row, from, to, counted) cell,
    ``UNCERTAIN_CHANGE`` where it changed but not confidently (``counted`` false), nodata where
    the cell is not in both years. Colour table: a change in the later class's colour, no change
    in ``unchanged``, an uncertain change in ``uncertain``; the tags name every code."""
    n = len(classes)
    if n * n + 1 >= UNCERTAIN_CHANGE:
        raise ValueError(f"a change raster holds at most 15 classes, not {n}")
    index = {name: i for i, name in enumerate(classes)}
    codes = np.full((1, grid.rows, grid.cols), CLASS_NODATA, np.uint8)
    for col, row, before, after, counted in cells:
        changed = before != after
        code = change_code(index[before], index[after], n)
        codes[(0, *grid.pixel(col, row))] = code if counted or not changed else UNCERTAIN_CHANGE
    palette = {CLASS_NODATA: (0, 0, 0, 0), UNCERTAIN_CHANGE: (*_rgb(uncertain), 255)}
    names = {f"CLASS_{UNCERTAIN_CHANGE}": "changed, not confident in both years"}
    for before in classes:
        for after in classes:
            code = change_code(index[before], index[after], n)
            colour = unchanged if before == after else colours[after]
            palette[code] = (*_rgb(colour), 255)
            names[f"CLASS_{code}"] = f"{before} -> {after}"
    return CogLayer(codes, grid.crs, grid.transform(), CLASS_NODATA, palette, ["change"],
                    overview_resampling="mode", band_tags=names)  # fmt: skip


def write_class_cog(
    path: Path,
    grid: CellGrid,
    cells: Iterable[tuple[int, int, str]],
    classes: list[str],
    colours: Mapping[str, str],
) -> Path:
    """``class_layer`` written at ``path``."""
    return class_layer(grid, cells, classes, colours).write(path)


def write_probability_cog(
    path: Path, grid: CellGrid, cells: Iterable[tuple[int, int, list[float]]], classes: list[str]
) -> Path:
    """``probability_layer`` written at ``path``."""
    return probability_layer(grid, cells, classes).write(path)


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def is_valid_cog(path: Path) -> bool:
    """rio-cogeo's own validation (tiling, overviews, IFD order)."""
    from rio_cogeo.cogeo import cog_validate

    valid, _errors, _warnings = cog_validate(str(path), quiet=True)
    return bool(valid)


def read_layer(path: Path) -> CogLayer:
    """The raster at ``path`` as a ``CogLayer`` (whole: for the small rasters of cells)."""
    import rasterio

    with rasterio.open(path) as dataset:
        colormap = None
        try:
            colormap = dict(dataset.colormap(1))
        except ValueError:  # no colour table
            pass
        return CogLayer(
            pixels=dataset.read(),
            crs=dataset.crs.to_string(),
            transform=dataset.transform,
            nodata=dataset.nodata,
            colormap=colormap,
            band_names=list(dataset.descriptions),
            band_tags=dataset.tags(1),
        )
