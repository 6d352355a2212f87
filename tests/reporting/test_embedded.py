"""Sheets of photos are embedded as JPEG, charts as PNG."""

import base64
import io

import numpy as np
from PIL import Image

from aerial_landuse.core.tiles.demo_textures import developed, forest
from aerial_landuse.reporting.embedded import data_uri, embedded_figures


def _photo_sheet() -> Image.Image:
    rng = np.random.default_rng(0)
    tiles = [painter(rng, 224) for painter in (forest, developed, forest, developed)]
    return Image.fromarray(np.concatenate(tiles, axis=1).astype(np.uint8)).convert("RGBA")


def _size(uri: str) -> int:
    return len(base64.b64decode(uri.split(",", 1)[1]))


def test_a_photo_sheet_is_a_much_smaller_jpeg_and_a_chart_stays_png():
    sheet = _photo_sheet()
    as_png, as_jpeg = data_uri(sheet), data_uri(sheet, photo=True)
    assert as_png.startswith("data:image/png;base64,")
    assert as_jpeg.startswith("data:image/jpeg;base64,")
    assert _size(as_png) > 3 * _size(as_jpeg)
    decoded = Image.open(io.BytesIO(base64.b64decode(as_jpeg.split(",", 1)[1])))
    assert decoded.size == sheet.size
    embedded = embedded_figures(
        {"gallery.png": lambda: sheet, "confusion_matrix.png": lambda: sheet}
    )
    assert embedded["gallery"].startswith("data:image/jpeg")
    assert embedded["confusion_matrix"].startswith("data:image/png")
