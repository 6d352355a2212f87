"""Figures embedded in a self-contained HTML report: charts as PNG (sharp lines, few colours),
sheets of aerial photos as JPEG (quality 85: about a sixth of the PNG's size, no visible loss at
thumbnail size)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

from PIL import Image

# The figures (by name, without .png) that are sheets of photos: the galleries, review sheets.
PHOTO_SHEETS = frozenset({"gallery", "test_gallery", "review_sheet"})
JPEG_QUALITY = 85


def photo_sheet_files() -> list[str]:
    """``${photo_sheets:}`` in the catalog: the photo sheets' file names, which the MLflow run
    gets inside report.html only (as JPEG), not a second time as PNG files."""
    return sorted(f"{stem}.png" for stem in PHOTO_SHEETS)


def data_uri(image: Image.Image, photo: bool = False) -> str:
    """``image`` as a ``data:`` URI: JPEG when it is a ``photo``, else PNG."""
    buffer = io.BytesIO()
    if photo:
        image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        kind = "jpeg"
    else:
        image.save(buffer, format="PNG")
        kind = "png"
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode()


def embedded_figures(figures: dict[str, Callable[[], Image.Image]]) -> dict[str, str]:
    """Each figure's data URI by its name without ``.png`` (what the templates use)."""
    stems = {name.removesuffix(".png"): load for name, load in sorted(figures.items())}
    return {stem: data_uri(load(), photo=stem in PHOTO_SHEETS) for stem, load in stems.items()}
