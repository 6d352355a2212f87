"""Maps of tiles for people and for GIS: class colours (NLCD), north-up axes with a north arrow
and a scale bar, the legend outside the map, an interactive map for the HTML reports and a QGIS
style file.

The interactive map is inline SVG with a few lines of script for pan, zoom and hover: it works
offline in any browser, with no tile server and no JavaScript library to fetch (folium and
Leaflet load theirs from a CDN, which an offline report cannot).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from html import escape
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from aerial_landuse.core.geometry.footprints import METRES_PER_DEGREE_LAT

# NLCD legend colours for the six classes; other classes get tab10 colours.
NLCD_COLOURS = {
    "Barren": "#b3ac9f",
    "Cultivated": "#ab6c28",
    "Developed": "#eb0000",
    "Forest": "#1c5f2c",
    "Herbaceous": "#dcd939",
    "Shrub": "#ccb879",
}


def class_colours(labels: Sequence[str]) -> dict[str, str]:
    spare = iter(matplotlib.colormaps["tab10"].colors)
    return {
        label: NLCD_COLOURS.get(label) or matplotlib.colors.to_hex(next(spare)) for label in labels
    }


def tile_polygons(tiles: pd.DataFrame) -> list[np.ndarray]:
    b = tiles[["llcrnrlon", "llcrnrlat", "urcrnrlon", "urcrnrlat"]].to_numpy()
    return [np.array([[w, s], [e, s], [e, n], [w, n]]) for w, s, e, n in b]


def north_up(ax: Axes, tiles: pd.DataFrame) -> None:
    """Axes in degrees with true proportions at the map's latitude, a north arrow and a scale
    bar (a round number of metres or kilometres, about a fifth of the map's width)."""
    mid_lat = float((tiles["llcrnrlat"].mean() + tiles["urcrnrlat"].mean()) / 2)
    ax.set_aspect(1 / math.cos(math.radians(mid_lat)))
    ax.set(xlabel="longitude (°)", ylabel="latitude (°)")
    west, east = tiles["llcrnrlon"].min(), tiles["urcrnrlon"].max()
    south, north = tiles["llcrnrlat"].min(), tiles["urcrnrlat"].max()
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.annotate(
        "N",
        xy=(0.96, 0.96),
        xytext=(0.96, 0.84),
        xycoords="axes fraction",
        ha="center",
        arrowprops={"arrowstyle": "-|>", "color": "black"},
        fontsize=12,
        fontweight="bold",
    )
    _scale_bar(ax, west, east, south, north, mid_lat)


def nice_length_m(width_m: float) -> float:
    """A round length (1, 2 or 5 x 10^k metres) close to a fifth of ``width_m``."""
    target = max(width_m / 5, 1e-9)
    power = 10 ** math.floor(math.log10(target))
    return max((m * power for m in (1, 2, 5) if m * power <= target), default=power)


def _scale_bar(ax: Axes, west: float, east: float, south: float, north: float, lat: float) -> None:
    metres_per_degree = METRES_PER_DEGREE_LAT * math.cos(math.radians(lat))
    length_m = nice_length_m((east - west) * metres_per_degree)
    x0, y0 = west + 0.04 * (east - west), south + 0.05 * (north - south)
    x1 = x0 + length_m / metres_per_degree
    ax.plot([x0, x1], [y0, y0], color="black", linewidth=3, solid_capstyle="butt")
    ax.plot([x0, x1], [y0, y0], color="white", linewidth=1.2, solid_capstyle="butt")
    text = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(
        (x0 + x1) / 2,
        y0 + 0.015 * (north - south),
        text,
        ha="center",
        va="bottom",
        fontsize=9,
        bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
    )


# ---- interactive map (HTML report) ------------------------------------------------------------
# Tiles drawn on a canvas from a compact payload (corners as int32 metres, colour indices, one
# hover line each), so that a county of 67,600 tiles stays a few MB; one SVG element per tile
# made the same report 18 MB.
_PAN_ZOOM_SCRIPT = """
(function () {
  function bytes(text) {
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }
  document.querySelectorAll('canvas.tilemap').forEach(function (canvas) {
    var data = JSON.parse(document.getElementById(canvas.id + '-data').textContent);
    var boxes = new Int32Array(bytes(data.boxes)), codes = new Uint16Array(bytes(data.codes));
    var tips = data.tips, n = tips.length, start = null, pending = false;
    var home = canvas.dataset.home.split(' ').map(Number);
    var box = {x: home[0], y: home[1], width: home[2], height: home[3]};
    var info = document.getElementById(canvas.dataset.info);
    var where = document.getElementById(canvas.id + '-where');
    var bar = document.getElementById(canvas.id + '-bar'), size = document.getElementById(canvas.id + '-size');
    var west = Number(canvas.dataset.west), north = Number(canvas.dataset.north);
    var kx = Number(canvas.dataset.kx), ky = Number(canvas.dataset.ky);
    function view() {  // the drawing area on screen (inside the border), km per px, the map's offset
      var r = canvas.getBoundingClientRect(), w = canvas.clientWidth, h = canvas.clientHeight;
      var s = Math.max(box.width / w, box.height / h);
      return {left: r.left + canvas.clientLeft, top: r.top + canvas.clientTop, w: w, h: h, s: s,
              dx: (w - box.width / s) / 2, dy: (h - box.height / s) / 2};
    }
    function km(e) {  // the map point under the pointer, km east and south of the north-west corner
      var v = view();
      return [box.x + (e.clientX - v.left - v.dx) * v.s, box.y + (e.clientY - v.top - v.dy) * v.s];
    }
    function draw() {  // every tile at whole device pixels: neighbours meet without a seam
      pending = false;
      var v = view(), ratio = window.devicePixelRatio || 1, ctx = canvas.getContext('2d');
      canvas.width = Math.round(v.w * ratio); canvas.height = Math.round(v.h * ratio);
      ctx.fillStyle = '#f4f4f4'; ctx.fillRect(0, 0, canvas.width, canvas.height);
      var k = ratio / v.s / 1000, bx = (v.dx - box.x / v.s) * ratio, by = (v.dy - box.y / v.s) * ratio;
      for (var i = 0; i < n; i++) {
        var x0 = Math.round(boxes[4 * i] * k + bx), y0 = Math.round(boxes[4 * i + 1] * k + by);
        var x1 = Math.round(boxes[4 * i + 2] * k + bx), y1 = Math.round(boxes[4 * i + 3] * k + by);
        if (x1 < 0 || y1 < 0 || x0 > canvas.width || y0 > canvas.height) { continue; }
        ctx.fillStyle = data.palette[codes[2 * i]];
        ctx.fillRect(x0, y0, Math.max(x1 - x0, 1), Math.max(y1 - y0, 1));
        if (codes[2 * i + 1]) {
          var line = Math.max(0.06 * (x1 - x0), 1);
          ctx.strokeStyle = data.outlines[codes[2 * i + 1] - 1]; ctx.lineWidth = line;
          ctx.strokeRect(x0 + line / 2, y0 + line / 2, x1 - x0 - line, y1 - y0 - line);
        }
      }
    }
    function redraw() { if (!pending) { pending = true; requestAnimationFrame(draw); } }
    function tileAt(p) {  // the topmost tile under a point (km): outlined tiles are drawn last
      var x = p[0] * 1000, y = p[1] * 1000;
      for (var i = n - 1; i >= 0; i--) {
        if (boxes[4 * i] <= x && x < boxes[4 * i + 2] && boxes[4 * i + 1] <= y && y < boxes[4 * i + 3]) {
          return i;
        }
      }
      return -1;
    }
    function degrees(x, y) {
      var lat = north - y / ky, lon = west + x / kx;
      return Math.abs(lat).toFixed(5) + '\u00b0 ' + (lat < 0 ? 'S' : 'N') + ', ' +
        Math.abs(lon).toFixed(5) + '\u00b0 ' + (lon < 0 ? 'W' : 'E');
    }
    function scale() {  // a round length (1, 2, 5 x 10^k) near 120 px at the current zoom
      var perPx = view().s, target = 120 * perPx;
      var power = Math.pow(10, Math.floor(Math.log10(target))), nice = power;
      [1, 2, 5].forEach(function (m) { if (m * power <= target) { nice = m * power; } });
      bar.style.width = (nice / perPx).toFixed(1) + 'px';
      size.textContent = nice >= 1 ? nice + ' km' : Math.round(nice * 1000) + ' m';
    }
    canvas.addEventListener('wheel', function (e) {
      e.preventDefault();
      var p = km(e), k = e.deltaY < 0 ? 0.8 : 1.25;
      box.x = p[0] - (p[0] - box.x) * k; box.y = p[1] - (p[1] - box.y) * k;
      box.width *= k; box.height *= k;
      scale(); redraw();
    });
    canvas.addEventListener('mousedown', function (e) { start = [e.clientX, e.clientY]; });
    window.addEventListener('mouseup', function () { start = null; });
    canvas.addEventListener('mousemove', function (e) {
      if (start) {
        var s = view().s;
        box.x -= (e.clientX - start[0]) * s;
        box.y -= (e.clientY - start[1]) * s;
        start = [e.clientX, e.clientY];
        redraw();
      }
      var p = km(e), i = tileAt(p);
      if (i >= 0 && info) { info.textContent = tips[i]; }
      where.textContent = degrees(p[0], p[1]);
    });
    canvas.addEventListener('dblclick', function () {
      box.x = home[0]; box.y = home[1]; box.width = home[2]; box.height = home[3];
      scale(); redraw();
    });
    window.addEventListener('resize', redraw);
    where.textContent = 'centre ' + degrees(box.x + box.width / 2, box.y + box.height / 2);
    scale();
    draw();
    canvas.setAttribute('data-ready', n);
  });
})();
"""


def interactive_map(
    tiles: pd.DataFrame,
    colours: Sequence[str],
    tips: Sequence[str],
    map_id: str,
    outlines: Sequence[str | None] | None = None,
    legend: dict[str, str] | None = None,
    outline_label: str | None = None,
    width_px: int = 900,
) -> str:
    """A map of ``tiles`` drawn on a canvas (each tile at its bounds, true proportions, north
    up; outlined tiles drawn last, so no neighbour covers an outline) with pan (drag), zoom
    (wheel), reset (double click), a hover line naming the tile, the pointer's coordinates, a
    scale bar that follows the zoom and the ``legend`` (label -> fill colour; ``outline_label``
    says what an outline means). Self-contained HTML: no server, no network."""
    ok = np.isfinite(tiles[["llcrnrlon", "llcrnrlat", "urcrnrlon", "urcrnrlat"]].to_numpy(float))
    keep = ok.all(axis=1)
    tiles = tiles[keep]
    colours = [c for c, k in zip(colours, keep, strict=True) if k]
    tips = [t for t, k in zip(tips, keep, strict=True) if k]
    outlines = [o for o, k in zip(outlines or [None] * len(keep), keep, strict=True) if k]
    if not len(tiles):
        return "<p>No tile has bounds: nothing to map.</p>"
    lat = float((tiles["llcrnrlat"].mean() + tiles["urcrnrlat"].mean()) / 2)
    x_scale = math.cos(math.radians(lat)) * METRES_PER_DEGREE_LAT / 1000  # km per degree lon
    y_scale = METRES_PER_DEGREE_LAT / 1000
    west, north = float(tiles["llcrnrlon"].min()), float(tiles["urcrnrlat"].max())
    corners = np.stack(
        [
            (tiles["llcrnrlon"].to_numpy(float) - west) * x_scale,
            (north - tiles["urcrnrlat"].to_numpy(float)) * y_scale,
            (tiles["urcrnrlon"].to_numpy(float) - west) * x_scale,
            (north - tiles["llcrnrlat"].to_numpy(float)) * y_scale,
        ],
        axis=1,
    )
    width, height = float(corners[:, 2].max()), float(corners[:, 3].max())
    home = f"0 0 {width:.4f} {height:.4f}"
    height_px = int(width_px * height / width) if width else width_px
    payload = _map_payload(corners, colours, tips, outlines)
    return (
        f'<div class="tilemap"><p id="{map_id}-info" class="tilemap-info">'
        "Hover a tile to see its class and probabilities; drag to pan, wheel to zoom, "
        "double click to reset.</p>"
        f'<canvas class="tilemap" id="{map_id}" data-info="{map_id}-info" data-home="{home}" '
        f'data-west="{west!r}" data-north="{north!r}" data-kx="{x_scale!r}" data-ky="{y_scale!r}" '
        f'data-tiles="{len(tips)}" role="img" aria-label="map of {len(tips)} tiles" '
        f'style="width:{width_px}px; height:{min(height_px, 900)}px; border:1px solid #ccc; '
        'cursor:grab; background:#f4f4f4; display:block"></canvas>'
        f'<script type="application/json" id="{map_id}-data">{payload}</script>'
        + _map_footer(map_id, legend or {}, outline_label, next(filter(None, outlines), None))
        + f"<script>{_PAN_ZOOM_SCRIPT}</script></div>"
    )


def _map_payload(
    corners: np.ndarray, colours: list[str], tips: list[str], outlines: list[str | None]
) -> str:
    """The tiles in drawing order (outlined ones last) as JSON for the map's script: corners
    in whole metres (int32, base64), fill and outline colour indices (uint16), hover lines."""
    order = sorted(range(len(tips)), key=lambda i: outlines[i] is not None)
    palette = list(dict.fromkeys(colours))
    outline_colours = list(dict.fromkeys(o for o in outlines if o))
    boxes = np.round(corners[order] * 1000).astype("<i4")
    codes = np.array(
        [
            [palette.index(colours[i]), outline_colours.index(o) + 1 if (o := outlines[i]) else 0]
            for i in order
        ],
        dtype="<u2",
    ).reshape(-1, 2)
    payload = {
        "palette": palette,
        "outlines": outline_colours,
        "boxes": base64.b64encode(boxes.tobytes()).decode(),
        "codes": base64.b64encode(codes.tobytes()).decode(),
        "tips": [tips[i] for i in order],
    }
    return json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")


def _map_footer(
    map_id: str, legend: dict[str, str], outline_label: str | None, outline: str | None
) -> str:
    """Under the map: the scale bar and the pointer's coordinates (set by the script), then the
    legend: a filled swatch per colour, an outlined one for what outlines mean."""
    keys = [(label, f"background: {colour}") for label, colour in legend.items()]
    if outline_label and outline:
        keys.append((outline_label, f"background: transparent; border: 2px solid {outline}"))
    swatches = "".join(
        f'<span class="tilemap-key"><span class="swatch" style="{style}"></span>'
        f"{escape(label)}</span>"
        for label, style in keys
    )
    return (
        f'<div class="tilemap-footer"><span class="tilemap-scale"><span id="{map_id}-bar" '
        f'class="bar"></span> <span id="{map_id}-size"></span></span>'
        f'<span id="{map_id}-where" class="tilemap-where"></span></div>'
        f'<div class="tilemap-legend" id="{map_id}-legend">{swatches}</div>'
    )


def tile_tip(row: Any, classes: Sequence[str], label_column: str = "pred_label") -> str:
    """``name: Class (p=0.93) | Forest 0.93, Developed 0.04, ...`` for a tile's hover line."""
    probabilities = sorted(
        ((c, float(getattr(row, f"prob_{c}", float("nan")))) for c in classes),
        key=lambda item: -item[1] if np.isfinite(item[1]) else 0,
    )
    listed = ", ".join(f"{c} {p:.2f}" for c, p in probabilities[:3] if np.isfinite(p))
    return f"{row.filename}: {getattr(row, label_column)} | {listed}"


# ---- QGIS ---------------------------------------------------------------------------------------
def qgis_style(
    labels: Sequence[str],
    column: str,
    opacity: float = 1.0,
    colours: dict[str, str] | None = None,
    outlined: Sequence[str] = (),
) -> str:
    """A QGIS layer style (.qml): polygons coloured by ``column``, in the report's class colours
    unless ``colours`` gives each label's; ``outlined`` labels get a black outline. Load it with
    Layer Properties > Symbology > Style > Load Style, or save it beside a layer of the same name
    for QGIS to pick up."""
    colours = colours or class_colours(labels)
    categories, symbols = [], []
    for i, label in enumerate(labels):
        r, g, b = (int(v * 255) for v in matplotlib.colors.to_rgb(colours[label]))
        outline = "solid" if label in outlined else "no"
        categories.append(
            f'<category render="true" symbol="{i}" value="{escape(label)}" '
            f'label="{escape(label)}"/>'
        )
        symbols.append(
            f'<symbol type="fill" name="{i}" alpha="{opacity}" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleFill" enabled="1" locked="0" pass="0">'
            f'<Option type="Map"><Option type="QString" name="color" value="{r},{g},{b},255"/>'
            f'<Option type="QString" name="outline_style" value="{outline}"/>'
            '<Option type="QString" name="outline_color" value="0,0,0,255"/>'
            '<Option type="QString" name="outline_width" value="0.6"/>'
            '<Option type="QString" name="style" value="solid"/></Option>'
            f'<prop k="color" v="{r},{g},{b},255"/><prop k="outline_style" v="{outline}"/>'
            '<prop k="outline_color" v="0,0,0,255"/><prop k="outline_width" v="0.6"/>'
            '<prop k="style" v="solid"/></layer></symbol>'
        )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="Symbology">\n'
        f'  <renderer-v2 type="categorizedSymbol" attr="{escape(column)}" '
        'forceraster="0" symbollevels="0" enableorderby="0">\n'
        f"    <categories>{''.join(categories)}</categories>\n"
        f"    <symbols>{''.join(symbols)}</symbols>\n"
        "  </renderer-v2>\n</qgis>\n"
    )
