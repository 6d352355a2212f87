"""Geometry of tiles on the ground: geodesic areas (WGS84 ellipsoid, pyproj), distances between
tile centres, and tiles as polygons for GeoJSON and GeoPackage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyproj import Geod

from aerial_landuse.core.contracts import BOUND_COLUMNS

WGS84 = Geod(ellps="WGS84")
METRES_PER_DEGREE_LAT = 111_320.0


def tile_area_km2(tiles: pd.DataFrame) -> np.ndarray:
    """Each tile's area on the WGS84 ellipsoid (km^2) from its bounds; NaN without bounds."""
    s, w, n, e = (tiles[c].to_numpy(float) for c in BOUND_COLUMNS)
    areas = np.full(len(tiles), np.nan)
    for i in np.flatnonzero(np.isfinite(s) & np.isfinite(w) & np.isfinite(n) & np.isfinite(e)):
        area, _ = WGS84.polygon_area_perimeter([w[i], e[i], e[i], w[i]], [s[i], s[i], n[i], n[i]])
        areas[i] = abs(area) / 1e6
    return areas


def centres_in_metres(tiles: pd.DataFrame, origin_lat: float) -> np.ndarray:
    """Tile centres as (north, east) metres on a local plane (enough to match tiles)."""
    lat = (tiles["llcrnrlat"].to_numpy(float) + tiles["urcrnrlat"].to_numpy(float)) / 2
    lon = (tiles["llcrnrlon"].to_numpy(float) + tiles["urcrnrlon"].to_numpy(float)) / 2
    scale = METRES_PER_DEGREE_LAT * np.cos(np.radians(origin_lat))
    return np.column_stack([lat * METRES_PER_DEGREE_LAT, lon * scale])


def tile_ring(row: Any, digits: int = 6) -> list[list[float]]:
    """A tile's outline as a closed GeoJSON ring of [lon, lat] (6 digits: ~10 cm, RFC 7946)."""
    w, s = round(float(row.llcrnrlon), digits), round(float(row.llcrnrlat), digits)
    e, n = round(float(row.urcrnrlon), digits), round(float(row.urcrnrlat), digits)
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


def feature_collection(tiles: pd.DataFrame, properties: list[str]) -> dict[str, Any]:
    """Tiles as a GeoJSON FeatureCollection (WGS84 lon/lat polygons) with ``properties``;
    floats rounded to 3 digits so the file stays small (written compactly: ~450 bytes a tile with
    six class probabilities, against ~1,050 pretty-printed with full floats)."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [tile_ring(row)]},
            "properties": {p: _plain(getattr(row, p)) for p in properties},
        }
        for row in tiles.itertuples(index=False)
    ]
    return {"type": "FeatureCollection", "features": features}


def geodataframe(
    tiles: pd.DataFrame, properties: list[str], squares: Any = None, crs: Any = 4326
) -> Any:
    """Tiles as a GeoDataFrame (for GeoPackage): their bounds as polygons in EPSG:4326, or the
    given ``squares`` in ``crs`` (a raster region's cells in the grid's CRS)."""
    import geopandas as gpd
    import shapely

    if squares is None:
        squares = shapely.box(
            tiles["llcrnrlon"], tiles["llcrnrlat"], tiles["urcrnrlon"], tiles["urcrnrlat"]
        )
    return gpd.GeoDataFrame(tiles[properties].reset_index(drop=True), geometry=squares, crs=crs)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if not np.isfinite(value) else round(value, 3)
    return value
