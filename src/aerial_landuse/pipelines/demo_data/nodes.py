"""Demo-data nodes: a deterministic synthetic tile set (train, test, and a region to score).

The tiles are synthetic look-alikes of NAIP tiles, not real imagery; README and report say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from aerial_landuse.core.tiles.cog import CogLayer
from aerial_landuse.core.tiles.demo_rasters import MosaicLayout, land_cover_layer, quad_layers
from aerial_landuse.core.tiles.demo_textures import LAND_USE_CLASSES, composite_tile, labelled_tile

METRES_PER_DEGREE_LAT = 111_320.0
SPLIT_CODES = {"train": 1, "test": 2}
WOODY_WETLAND = 90  # an NLCD code the class table excludes


def _tile_rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def labelled_tiles(params: dict[str, Any], split: str) -> dict[str, Callable[[], Image.Image]]:
    """``{Class/class_0001: lazy tile}`` for one split; saving renders one tile at a time."""
    per_class = int(params[f"{split}_tiles_per_class"])
    size, seed, mix = (
        int(params["tile_size"]),
        int(params["seed"]),
        float(params["edge_mix_probability"]),
    )

    def render(label: str, index: int) -> Callable[[], Image.Image]:
        rng = _tile_rng(seed, SPLIT_CODES[split], LAND_USE_CLASSES.index(label), index)
        return lambda: Image.fromarray(labelled_tile(rng, label, size, mix))

    return {
        f"{label}/{label.lower()}_{i:04d}": render(label, i)
        for label in LAND_USE_CLASSES
        for i in range(per_class)
    }


def generate_train_tiles(params: dict[str, Any]) -> dict[str, Callable[[], Image.Image]]:
    return labelled_tiles(params, "train")


def generate_test_tiles(params: dict[str, Any]) -> dict[str, Callable[[], Image.Image]]:
    return labelled_tiles(params, "test")


# Where each class dominates in the region, as (east, north) in [0, 1]: a town at the centre
# with roads, fields to the south-east, forest to the north-west, grassland north-east,
# scrub south-west, and a quarry (bare ground) in the west.
CLASS_SEEDS: dict[str, list[tuple[float, float]]] = {
    "Developed": [(0.52, 0.48), (0.58, 0.42), (0.47, 0.55)],
    "Forest": [(0.12, 0.85), (0.3, 0.92), (0.08, 0.6), (0.88, 0.92), (0.32, 0.72)],
    "Cultivated": [(0.75, 0.22), (0.9, 0.38), (0.62, 0.1), (0.4, 0.18), (0.88, 0.08)],
    "Herbaceous": [(0.62, 0.8), (0.78, 0.7), (0.95, 0.6), (0.45, 0.82)],
    "Shrub": [(0.2, 0.28), (0.08, 0.1), (0.28, 0.45), (0.22, 0.05)],
    "Barren": [(0.06, 0.38), (0.7, 0.55)],
}


def class_map(params: dict[str, Any], resolution: int) -> np.ndarray:
    """Class index per map cell (``resolution`` cells per tile side), north row first."""
    rows, cols, seed = (
        int(params["region"]["rows"]),
        int(params["region"]["cols"]),
        int(params["seed"]),
    )
    rng = _tile_rng(seed, 99)
    height, width = rows * resolution, cols * resolution
    north, east = np.mgrid[0:height, 0:width].astype(np.float32)
    east, north = east / width, 1.0 - north / height
    warp = [
        np.asarray(
            Image.fromarray((rng.random((6, 8)) * 255).astype(np.uint8)).resize(
                (width, height), Image.BICUBIC
            ),
            np.float32,
        )
        / 255
        - 0.5
        for _ in range(2)
    ]
    east, north = east + 0.12 * warp[0], north + 0.12 * warp[1]
    best = np.full((height, width), np.inf, np.float32)
    classes = np.zeros((height, width), np.int64)
    for label, seeds in CLASS_SEEDS.items():
        for seed_east, seed_north in seeds:
            se, sn = seed_east + rng.normal(0, 0.03), seed_north + rng.normal(0, 0.03)
            scale = 0.7 if label == "Barren" else 1.0
            distance = np.hypot((east - se) * cols / rows, north - sn) / scale
            closer = distance < best
            best[closer], classes[closer] = distance[closer], LAND_USE_CLASSES.index(label)
    return classes


def _draw_roads(mosaic: Image.Image, rng: np.random.Generator) -> None:
    """A highway east-west and a road north-south through the town, continuous across tiles."""
    draw = ImageDraw.Draw(mosaic)
    width, height = mosaic.size
    y = height * 0.52 + rng.normal(0, 20)
    draw.line([(0, y + 60), (width * 0.5, y), (width, y - 80)], fill=(96, 96, 100), width=14)
    x = width * 0.53 + rng.normal(0, 20)
    draw.line([(x - 90, 0), (x, height * 0.5), (x + 50, height)], fill=(104, 102, 100), width=10)


def grown_class_map(before: np.ndarray, params: dict[str, Any], resolution: int) -> np.ndarray:
    """The region's class map some years later: Developed grown over land next to the town in
    compact patches (irregular discs of ``site_radius_tiles``), and forest cleared for fields,
    as land-use change happens, never as scattered single tiles."""
    change = params["change"]
    rng = _tile_rng(int(params["seed"]), 98)
    height, width = before.shape
    north, east = np.mgrid[0:height, 0:width].astype(np.float32) / resolution
    after = before.copy()
    developed = LAND_USE_CLASSES.index("Developed")
    convertible = np.isin(before, [LAND_USE_CLASSES.index(c) for c in GROWS_OVER])
    edge = _near(before == developed, resolution * 2) & convertible
    plans = [("Developed", edge, GROWS_OVER)] * int(change["development_sites"])
    forest = before == LAND_USE_CLASSES.index("Forest")
    plans += [("Cultivated", forest, ("Forest",))] * int(change["forest_clearings"])
    radius = float(change["site_radius_tiles"])
    for new_class, candidates, over in plans:
        cells = np.argwhere(candidates)
        if not len(cells):
            continue
        centre = cells[rng.integers(len(cells))] / resolution
        wobble = 1 + 0.25 * np.sin(
            3 * np.arctan2(north - centre[0], east - centre[1]) + rng.uniform(0, 6)
        )
        inside = np.hypot(north - centre[0], east - centre[1]) < radius * wobble
        target = inside & np.isin(before, [LAND_USE_CLASSES.index(c) for c in over])
        after[target] = LAND_USE_CLASSES.index(new_class)
    return after


GROWS_OVER = ("Forest", "Cultivated", "Herbaceous", "Shrub")


def _near(mask: np.ndarray, distance: int) -> np.ndarray:
    """Cells within ``distance`` cells (square neighbourhood) of a True cell of ``mask``."""
    grown = mask.copy()
    for axis in (0, 1):
        shifted = grown.copy()
        for step in range(1, distance + 1):
            shifted |= np.roll(grown, step, axis) | np.roll(grown, -step, axis)
        grown = shifted
    return grown


def _render_region(
    params: dict[str, Any], classes: np.ndarray, resolution: int, year: int
) -> tuple[dict[str, Image.Image], pd.DataFrame]:
    """The tiles of one year of the region (its own textures and light: another flight) and
    tile_summaries.csv with their bounds and true class."""
    region = params["region"]
    rows, cols, size, seed = (
        int(region["rows"]),
        int(region["cols"]),
        int(params["tile_size"]),
        int(params["seed"]),
    )
    mosaic = np.zeros((rows * size, cols * size, 3), np.uint8)
    for r in range(rows):
        for c in range(cols):
            cell = classes[
                r * resolution : (r + 1) * resolution, c * resolution : (c + 1) * resolution
            ]
            mask = np.asarray(
                Image.fromarray(cell.astype(np.uint8)).resize((size, size), Image.NEAREST)
            )
            mosaic[r * size : (r + 1) * size, c * size : (c + 1) * size] = composite_tile(
                _tile_rng(seed, 7, year, r, c), mask, size
            )
    image = Image.fromarray(mosaic)
    _draw_roads(image, _tile_rng(seed, 8))
    tiles, summaries = {}, []
    tile_m = float(params["tile_size_m"])
    dlat = tile_m / METRES_PER_DEGREE_LAT
    dlon = tile_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(float(region["north_lat"]))))
    for r in range(rows):
        for c in range(cols):
            name = f"naip_{year}_r{r:03d}_c{c:03d}"
            tiles[name] = image.crop((c * size, r * size, (c + 1) * size, (r + 1) * size))
            cell = classes[
                r * resolution : (r + 1) * resolution, c * resolution : (c + 1) * resolution
            ]
            north = float(region["north_lat"]) - r * dlat
            west = float(region["west_lon"]) + c * dlon
            summaries.append(
                {
                    "filename": f"{name}.png",
                    "llcrnrlat": round(north - dlat, 7),
                    "llcrnrlon": round(west, 7),
                    "urcrnrlat": round(north, 7),
                    "urcrnrlon": round(west + dlon, 7),
                    "true_label": LAND_USE_CLASSES[int(np.bincount(cell.ravel()).argmax())],
                }
            )
    return tiles, pd.DataFrame(summaries)


REGION_RESOLUTION = 56  # class-map cells per tile side


def generate_regions(
    params: dict[str, Any],
) -> tuple[dict[str, Image.Image], pd.DataFrame, dict[str, Image.Image], pd.DataFrame]:
    """The demo region in two years (tiles and tile_summaries.csv each): the later one with
    known land-use change (``grown_class_map``), for the change pipeline and its tests."""
    before = class_map(params, REGION_RESOLUTION)
    after = grown_class_map(before, params, REGION_RESOLUTION)
    years = params["change"]
    return (
        *_render_region(params, before, REGION_RESOLUTION, int(years["before_year"])),
        *_render_region(params, after, REGION_RESOLUTION, int(years["after_year"])),
    )


def raster_layout(params: dict[str, Any]) -> MosaicLayout:
    """The NAIP-like quads' layout (``rasters``), its north-west corner at the tile region's
    (``region.north_lat``, ``region.west_lon``) in the quads' UTM zone, snapped to whole metres."""
    from pyproj import Transformer

    rasters, region = params["rasters"], params["region"]
    to_utm = Transformer.from_crs("EPSG:4326", rasters["crs"], always_xy=True)
    left, top = to_utm.transform(float(region["west_lon"]), float(region["north_lat"]))
    return MosaicLayout(
        crs=str(rasters["crs"]),
        left=float(round(left)),
        top=float(round(top)),
        quads=int(rasters["quads"]),
        quad_px=int(rasters["quad_px"]),
        resolution=float(rasters["resolution"]),
        overlap_px=int(rasters["overlap_px"]),
        collar_px=int(rasters["collar_px"]),
    )


def generate_raster_regions(
    params: dict[str, Any], ingest: dict[str, Any]
) -> tuple[dict[str, CogLayer], dict[str, CogLayer], dict[str, CogLayer]]:
    """The demo as a GIS analyst has it, in both years: ``rasters.quads`` NAIP-like 4-band COG
    quads per year (``quad_<i>.tif``, west to east, overlapping, nodata collars), painted from a
    class map of the same kind as the tile region's and, in the later year, the same change
    (``grown_class_map``); each year its own textures (another flight). Third, the later year's
    NLCD-like land cover (30 m, CONUS Albers, coded by ``ingest.land_cover.classes``), with a
    woody-wetland patch (code 90, excluded from labels) in the north-west, to train from."""
    layout = raster_layout(params)
    tile_m = float(params["tile_size_m"])
    left, bottom, right, top = layout.bounds()
    span = {"rows": math.ceil((top - bottom) / tile_m), "cols": math.ceil((right - left) / tile_m)}
    map_params = {**params, "region": {**params["region"], **span}}
    before = class_map(map_params, REGION_RESOLUTION)
    after = grown_class_map(before, map_params, REGION_RESOLUTION)
    block_m, years, seed = tile_m / REGION_RESOLUTION, params["change"], int(params["seed"])
    quads = tuple(
        {
            f"quad_{index}": layer
            for index, layer in enumerate(
                quad_layers(classes, block_m, layout, seed * 10_000 + int(years[year]))
            )
        }
        for classes, year in ((before, "before_year"), (after, "after_year"))
    )
    wetland = (WOODY_WETLAND, left + 0.15 * (right - left), top - 0.3 * (top - bottom))
    table = ingest["land_cover"]["classes"]
    land_cover = land_cover_layer(after, block_m, layout, table, wetland)
    return (*quads, {"nlcd": land_cover})  # type: ignore[return-value]
