"""Cloud-Optimized GeoTIFFs written with rio-cogeo: internally tiled, with overviews, validated.

Used for the classified rasters a region's scores become and for the synthetic NAIP-like demo
quads; rio-cogeo does the COG layout (tiles, overviews, header first), not this module.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np


def write_cog(
    path: Path,
    pixels: np.ndarray,
    crs: str,
    transform: Any,
    nodata: float | None = None,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    band_names: list[str] | None = None,
    overview_resampling: str = "average",
) -> Path:
    """Write ``pixels`` (bands x rows x cols) as a deflate-compressed COG at ``path``; a
    ``colormap`` (value -> RGBA) goes into the file for a one-band class raster."""
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
        with memory.open() as source, warnings.catch_warnings():
            # GDAL reports a nodata mask of an in-memory file as a per-dataset one; nodata rules
            warnings.simplefilter("ignore", NodataAlphaMaskWarning)
            cog_translate(
                source,
                str(path),
                cog_profiles.get("deflate"),
                overview_resampling=overview_resampling,
                colormap=colormap,
                in_memory=True,
                quiet=True,
            )
    return path


def is_valid_cog(path: Path) -> bool:
    """rio-cogeo's own validation (tiling, overviews, IFD order)."""
    from rio_cogeo.cogeo import cog_validate

    valid, _errors, _warnings = cog_validate(str(path), quiet=True)
    return bool(valid)
