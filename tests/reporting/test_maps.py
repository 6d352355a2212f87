"""The interactive map in a real browser: legend, scale bar and coordinates, outlines on top."""

import json
import re
from importlib.resources import files

import numpy as np
import pandas as pd

from aerial_landuse.core.geometry.footprints import METRES_PER_DEGREE_LAT
from aerial_landuse.reporting.maps import interactive_map, nice_length_m
from tests.browser import rendered_dom

DLAT, DLON = 0.002, 0.0027  # about 222 m x 222 m at 42.5 N


def _grid(rows: int = 4, cols: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "llcrnrlat": 42.5 - (r + 1) * DLAT,
                "urcrnrlat": 42.5 - r * DLAT,
                "llcrnrlon": -71.4 + c * DLON,
                "urcrnrlon": -71.4 + (c + 1) * DLON,
            }
            for r in range(rows)
            for c in range(cols)
        ]
    )


# After the map drew: the pointer moves over the centre of the tile of row 1, column 2 (of 4 x 5).
_HOVER_TILE_7 = """<script>addEventListener('load', () => {
  const map = document.getElementById('m'), box = map.getBoundingClientRect();
  map.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
    clientX: box.left + map.clientLeft + 2.5 * map.clientWidth / 5,
    clientY: box.top + map.clientTop + 1.5 * map.clientHeight / 4}));
});</script>"""


def test_the_map_has_its_legend_a_scale_that_fits_and_its_coordinates(tmp_path):
    tiles = _grid()
    outlined = {0, 6}  # drawn after every other tile, whatever their order
    html = interactive_map(
        tiles,
        ["#1c5f2c"] * 10 + ["#eb0000"] * 10,
        [f"tile {i}" for i in range(20)],
        "m",
        ["#000000" if i in outlined else None for i in range(20)],
        legend={"Forest": "#1c5f2c", "Developed": "#eb0000"},
        outline_label="outlined: became Developed",
    )
    style = (files("aerial_landuse.reporting.templates") / "report.css").read_text()
    page = tmp_path / "map.html"
    page.write_text(
        f'<html><head><meta charset="utf-8"><style>{style}</style></head><body>{html}'
        f"{_HOVER_TILE_7}</body></html>"
    )
    dom = rendered_dom(page, tmp_path / "profile")

    assert 'data-ready="20"' in dom  # the script decoded and drew the 20 tiles, no error
    payload = json.loads(re.search(r'id="m-data">(.*?)</script>', html).group(1))
    tips = payload["tips"]  # the drawing order
    assert {int(t.split()[1]) for t in tips[-2:]} == outlined  # outlines last: never covered
    assert "<rect" not in html  # one canvas, not an element per tile
    legend = re.search(r'id="m-legend">(.*?)</div>', dom).group(1)
    assert [re.sub("<[^>]+>", "", k) for k in legend.split('<span class="tilemap-key">')[1:]] == [
        "Forest",
        "Developed",
        "outlined: became Developed",
    ]
    # The map is 5 x 222 m wide in 900 px: the bar is the round length nearest below 120 px.
    metres_per_px = 5 * DLON * METRES_PER_DEGREE_LAT * np.cos(np.radians(42.496)) / 900
    expected = nice_length_m(600 * metres_per_px)
    assert re.search(r'id="m-size">([^<]*)<', dom).group(1) == f"{expected:g} m"
    bar = float(re.search(r'id="m-bar" class="bar" style="width: ([\d.]+)px', dom).group(1))
    assert bar == np.round(expected / metres_per_px, 1) and 48 <= bar <= 120
    # the pointer over the tile of row 1, column 2 (the page's script moves it there): its
    # hover line, and the pointer's coordinates to a pixel (about 0.00001 degree here)
    assert re.search(r'id="m-info" class="tilemap-info">([^<]*)<', dom).group(1) == "tile 7"
    where = re.search(
        r'id="m-where" class="tilemap-where">([\d.]+)\u00b0 N, ([\d.]+)\u00b0 W<', dom
    )
    lat, lon = float(where.group(1)), -float(where.group(2))
    assert abs(lat - (42.5 - 1.5 * DLAT)) < 2e-5 and abs(lon - (-71.4 + 2.5 * DLON)) < 2e-5
