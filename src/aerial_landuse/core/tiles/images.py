"""Image decoding: tile bytes to RGB pixels, header probes, and the words a quarantine uses.

Pure functions on bytes and Pillow images, run by Spark executors and by the report alike.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

import imagecodecs
import numpy as np
from PIL import Image, ImageOps

_FILE_OBJECT = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>")


def failure_reason(exc: BaseException, path: str | None = None) -> str:
    """How a tile failed, as the quarantine report states it. Pillow names the file object it
    was given (``<...LocalFileOpener object at 0x...>``): the file's name replaces it."""
    name = path.rsplit("/", 1)[-1] if path else "the file"
    return f"{type(exc).__name__}: {_FILE_OBJECT.sub(name, str(exc))}"


@dataclass(frozen=True)
class TileLimits:
    """What a tile must be to be used (ingest.min_tile_side, max_tile_megapixels,
    max_tile_bytes): tiny tiles would be stretched to the network's input, huge ones decoded
    whole; both are refused at ingest with the reason, as are multi-page images (which page is
    the tile?), and checked again when the tile is decoded (a file swapped after ingest)."""

    min_side: int
    max_megapixels: float
    max_bytes: int

    @classmethod
    def of(cls, ingest: dict[str, Any]) -> TileLimits:
        """The limits the ingest parameters set."""
        return cls(
            int(ingest["min_tile_side"]),
            float(ingest["max_tile_megapixels"]),
            int(ingest["max_tile_bytes"]),
        )


class TileRuleError(ValueError):
    """A readable image that breaks a tile rule (size, pages): quarantined with this reason."""


def probe_image(handle: BinaryIO, limits: TileLimits) -> tuple[int, int, str, str]:
    """Width, height, mode and format from an image header (reads only the header); raises
    for an empty file, no pixels, or a tile that breaks ``limits``."""
    if not handle.read(1):
        raise ValueError("empty file (0 bytes)")
    handle.seek(0)
    with Image.open(handle) as img:
        width, height = img.size
        if width == 0 or height == 0:
            raise ValueError(f"image has no pixels ({width}x{height})")
        _check_limits(img, limits)
        return width, height, img.mode, img.format or "unknown"


def _check_limits(img: Image.Image, limits: TileLimits) -> None:
    _check_dimensions(*img.size, limits)
    pages = getattr(img, "n_frames", 1)
    if pages > 1:
        raise TileRuleError(
            f"multi-page image ({pages} pages): one tile per file, split the pages into files"
        )


def _check_dimensions(width: int, height: int, limits: TileLimits) -> None:
    if min(width, height) < limits.min_side:
        raise TileRuleError(
            f"too small: {width}x{height} px (ingest.min_tile_side is {limits.min_side} px)"
        )
    if width * height > limits.max_megapixels * 1e6:
        raise TileRuleError(
            f"too large: {width}x{height} px = {width * height / 1e6:.0f} MP (ingest."
            f"max_tile_megapixels is {limits.max_megapixels:g}): cut it into tiles first"
        )


def upright(img: Image.Image) -> Image.Image:
    """The image as it is meant to be seen: its EXIF orientation (a phone or camera's rotation
    flag) applied; images without one are returned as they are."""
    return ImageOps.exif_transpose(img) if img.getexif().get(ORIENTATION, 1) != 1 else img


ORIENTATION = 0x0112  # the EXIF orientation tag


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB; 16-bit and float images are rescaled, not clipped."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(img, dtype=np.float32)
        low, high = np.percentile(values, (0.5, 99.5)) if values.size else (0.0, 1.0)
        scaled = np.clip((values - low) / max(high - low, 1e-6) * 255.0, 0, 255).astype(np.uint8)
        img = Image.fromarray(scaled, mode="L")
    return img.convert("RGB") if img.mode != "RGB" else img


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_tile(data: bytes, size: int, limits: TileLimits | None = None) -> np.ndarray:
    """Decode image bytes to a ``size`` x ``size`` RGB uint8 array (bilinear resize). With
    ``limits`` (featurize), the header is checked against them before any pixel is decoded."""
    if limits is not None and len(data) > limits.max_bytes:  # the read stops one byte past it
        raise TileRuleError(
            f"too large: more than ingest.max_tile_bytes ({limits.max_bytes / 1e6:.1f} MB) on "
            "storage, so it changed since ingest: run ingest again"
        )
    side = _png_side(data) if data.startswith(PNG_SIGNATURE) else None
    if side is not None and limits is not None:
        _check_dimensions(*side, limits)
    if side == (size, size):
        pixels = _fast_png(data, size)
        if pixels is not None:
            return pixels
    with Image.open(io.BytesIO(data)) as img:
        if limits is not None:
            _check_limits(img, limits)
        if img.format == "JPEG":
            img.draft("RGB", (size, size))
        rgb = to_rgb(upright(img))
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


def _png_side(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, read before decoding (no pixel touched)."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def too_many_bytes(found: int, limits: TileLimits) -> str:
    """The quarantine reason of a file of ``found`` bytes, more than ``limits.max_bytes``."""
    return (
        f"too large: {found / 1e6:.1f} MB on storage (ingest.max_tile_bytes is "
        f"{limits.max_bytes / 1e6:.1f} MB): cut it into tiles first"
    )


def _fast_png(data: bytes, size: int) -> np.ndarray | None:
    """8-bit RGB PNGs already at ``size``: imagecodecs (libpng, GIL released), ~20% faster
    than Pillow; anything else (other modes, sizes, damaged files) goes through Pillow."""
    try:
        pixels = imagecodecs.png_decode(data)
    except Exception:  # Pillow decodes again and words the quarantine reason
        return None
    if pixels.dtype == np.uint8 and pixels.shape == (size, size, 3):
        return pixels
    return None


def thumbnail(img: Image.Image, size: int) -> np.ndarray:
    """A ``size`` x ``size`` RGB thumbnail of any Pillow image (the report's gallery)."""
    return np.asarray(to_rgb(upright(img)).resize((size, size), Image.BILINEAR), dtype=np.uint8)
