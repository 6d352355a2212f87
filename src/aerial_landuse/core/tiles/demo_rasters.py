"""A synthetic NAIP-like raster region, made offline from the demo textures, for the raster path's
demo and tests: what a GIS analyst has, not tiles someone has cut.

- **Imagery**: side-by-side 4-band (R, G, B, NIR) 8-bit Cloud-Optimized GeoTIFF quads in UTM,
  overlapping as NAIP's quarter quads do, each with a nodata-0 collar along its edges; the
  overlap shows the same ground in both files (one mosaic is painted, then cut).
- **Land cover**: an NLCD-like 30 m raster of the same ground in NLCD's own projection (CONUS
  Albers, EPSG:5070), its codes those a class table maps to each land-use class, optionally with
  a patch of an excluded code (woody wetland in a forest) as real NLCD has.

The ground's classes come from ``classes`` (a class index per ``block_m`` square, north row first),
so the imagery and the land cover agree wherever the map is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aerial_landuse.core.tiles.cog import CogLayer
from aerial_landuse.core.tiles.demo_textures import LAND_USE_CLASSES, composite_tile

CHUNK_PX = 224  # pixels painted per texture (the textures' own scale: 1 m/pixel)
# Near-infrared reflectance per class (vegetation bright, built-up and bare ground dark); the
# demo textures are RGB only.
NIR_BASE = {
    "Barren": 90,
    "Cultivated": 165,
    "Developed": 60,
    "Forest": 195,
    "Herbaceous": 175,
    "Shrub": 140,
}
BAND_NAMES = ["red", "green", "blue", "nir"]  # NAIP's band order
LAND_COVER_CRS = "EPSG:5070"  # NLCD's CONUS Albers
LAND_COVER_RES = 30.0
LAND_COVER_NODATA = 0


@dataclass(frozen=True)
class MosaicLayout:
    """Where the quads lie: ``quads`` files west to east, each ``quad_px`` square pixels of
    ``resolution`` metres, the next starting ``overlap_px`` before the previous one ends."""

    crs: str = "EPSG:32619"  # UTM zone 19N (Massachusetts, the scenario's Middlesex County)
    left: float = 310_000.0
    top: float = 4_700_000.0
    quads: int = 2
    quad_px: int = 1024
    resolution: float = 1.0
    overlap_px: int = 48
    collar_px: int = 16

    def __post_init__(self) -> None:
        if not 0 <= 2 * self.collar_px <= self.overlap_px < self.quad_px:
            raise ValueError(
                "the quads' overlap must hold both collars (2 x collar_px <= overlap_px < quad_px)"
            )

    @property
    def width_px(self) -> int:
        return self.quads * self.quad_px - (self.quads - 1) * self.overlap_px

    def quad_left(self, index: int) -> float:
        return self.left + index * (self.quad_px - self.overlap_px) * self.resolution

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the whole mosaic in ``crs``."""
        span_x, span_y = self.width_px * self.resolution, self.quad_px * self.resolution
        return self.left, self.top - span_y, self.left + span_x, self.top


def class_at(
    classes: np.ndarray, block_m: float, layout: MosaicLayout, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """The class index of ground points (``x``, ``y`` in the layout's CRS); -1 off the map."""
    col = np.floor((x - layout.left) / block_m).astype(np.int64)
    row = np.floor((layout.top - y) / block_m).astype(np.int64)
    inside = (row >= 0) & (row < classes.shape[0]) & (col >= 0) & (col < classes.shape[1])
    found = np.full(np.shape(x), -1, np.int64)
    found[inside] = classes[row[inside], col[inside]]
    return found


def paint_mosaic(
    classes: np.ndarray, block_m: float, layout: MosaicLayout, seed: int
) -> np.ndarray:
    """The whole mosaic, 4 x rows x cols uint8 (R, G, B, NIR), painted chunk by chunk from the
    demo textures; no pixel is 0 in every band (0 is the quads' nodata)."""
    height, width = layout.quad_px, layout.width_px
    rgb = np.zeros((height, width, 3), np.uint8)
    nir_base = np.array([NIR_BASE[name] for name in LAND_USE_CLASSES], np.float32)
    nir = np.zeros((height, width), np.float32)
    for top in range(0, height, CHUNK_PX):
        for left in range(0, width, CHUNK_PX):
            rows, cols = np.mgrid[top : top + CHUNK_PX, left : left + CHUNK_PX]
            x = layout.left + (cols + 0.5) * layout.resolution
            y = layout.top - (rows + 0.5) * layout.resolution
            mask = np.clip(class_at(classes, block_m, layout, x, y), 0, None)
            rng = np.random.default_rng([seed, top, left])
            tile = composite_tile(rng, mask, CHUNK_PX)
            part = (slice(top, top + CHUNK_PX), slice(left, left + CHUNK_PX))
            shape = rgb[part].shape[:2]
            rgb[part] = tile[: shape[0], : shape[1]]
            green = tile[..., 1].astype(np.float32)
            texture = 0.4 * (green - green.mean())
            nir[part] = (nir_base[mask] + texture)[: shape[0], : shape[1]]
    bands = np.concatenate([rgb.transpose(2, 0, 1), np.clip(nir, 0, 255)[None].astype(np.uint8)])
    return np.maximum(bands, 1)  # a black pixel is still data: 1, never the nodata 0


def quad_layers(
    classes: np.ndarray, block_m: float, layout: MosaicLayout, seed: int
) -> list[CogLayer]:
    """The layout's quads, west to east, as 4-band COG layers with nodata 0 in their collars."""
    from rasterio.transform import from_origin

    mosaic = paint_mosaic(classes, block_m, layout, seed)
    quads = []
    for index in range(layout.quads):
        start = index * (layout.quad_px - layout.overlap_px)
        quad = mosaic[:, :, start : start + layout.quad_px].copy()
        edge = layout.collar_px
        if edge:
            quad[:, :edge, :] = quad[:, -edge:, :] = 0
            quad[:, :, :edge] = quad[:, :, -edge:] = 0
        transform = from_origin(
            layout.quad_left(index), layout.top, layout.resolution, layout.resolution
        )
        quads.append(CogLayer(quad, layout.crs, transform, nodata=0, band_names=BAND_NAMES))
    return quads


def write_quads(
    folder: Path,
    name: str,
    classes: np.ndarray,
    block_m: float,
    layout: MosaicLayout,
    seed: int,
) -> list[Path]:
    """``quad_layers`` as COGs ``<folder>/<name>_<i>.tif``."""
    folder.mkdir(parents=True, exist_ok=True)
    layers = quad_layers(classes, block_m, layout, seed)
    return [layer.write(folder / f"{name}_{i}.tif") for i, layer in enumerate(layers)]


def code_of_each_class(table: Mapping[int, str | None]) -> dict[str, int]:
    """The land-cover code that stands for each class: the lowest one the table maps to it."""
    codes: dict[str, int] = {}
    for code, name in sorted(table.items()):
        if name is not None:
            codes.setdefault(name, int(code))
    missing = [name for name in LAND_USE_CLASSES if name not in codes]
    if missing:
        raise ValueError(f"the class table maps no land-cover code to {', '.join(missing)}")
    return codes


def land_cover_layer(
    classes: np.ndarray,
    block_m: float,
    layout: MosaicLayout,
    table: Mapping[int, str | None],
    wetland: tuple[int, float, float] | None = None,
) -> CogLayer:
    """An NLCD-like land-cover raster of the mosaic's ground at 30 m in CONUS Albers: each pixel
    the code of the class under its centre, nodata off the map; ``wetland`` (code, x, y in the
    layout's CRS) puts a 180 m patch of that code there (an excluded code, as NLCD's wetlands)."""
    from pyproj import Transformer
    from rasterio.transform import from_origin
    from rasterio.warp import transform_bounds

    res = LAND_COVER_RES
    left, bottom, right, top = transform_bounds(
        layout.crs, LAND_COVER_CRS, *layout.bounds(), densify_pts=21
    )
    left, top = np.floor(left / res) * res, np.ceil(top / res) * res
    cols, rows = int(np.ceil((right - left) / res)), int(np.ceil((top - bottom) / res))
    centres_x = left + (np.arange(cols) + 0.5) * res
    centres_y = top - (np.arange(rows) + 0.5) * res
    to_mosaic = Transformer.from_crs(LAND_COVER_CRS, layout.crs, always_xy=True)
    x, y = to_mosaic.transform(*np.meshgrid(centres_x, centres_y))
    found = class_at(classes, block_m, layout, np.asarray(x), np.asarray(y))
    lookup = np.array([code_of_each_class(table)[name] for name in LAND_USE_CLASSES], np.uint8)
    codes = np.where(found >= 0, lookup[np.clip(found, 0, None)], LAND_COVER_NODATA)
    codes = codes.astype(np.uint8)
    if wetland is not None:
        code, at_x, at_y = wetland
        patch_x, patch_y = Transformer.from_crs(
            layout.crs, LAND_COVER_CRS, always_xy=True
        ).transform(at_x, at_y)
        col, row = int((patch_x - left) // res), int((top - patch_y) // res)
        codes[max(row - 3, 0) : row + 3, max(col - 3, 0) : col + 3] = code
    transform = from_origin(left, top, res, res)
    return CogLayer(
        codes[None], LAND_COVER_CRS, transform, LAND_COVER_NODATA, overview_resampling="mode"
    )
