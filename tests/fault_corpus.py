"""A generated corpus of bad (and oddly good) inputs, each with the outcome the rules promise
(docs/reliability.md): ``tile`` (used, with its class), ``quarantined`` at ``ingest`` (listing
rule or header probe) or at ``decode`` (featurize), or ``ignored`` (not a tile), and the words
its reason must contain."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

GOOD_CLASSES = ("Forest", "Shrub")


@dataclass(frozen=True)
class Case:
    name: str
    relpath: str  # where the case's file sits below the labelled root
    write: Callable[[Path], None]  # writes the file at the given path
    outcome: str  # tile | quarantined | ignored
    stage: str = ""  # ingest | decode (quarantined only)
    reason: str = ""  # words the reason must contain
    label: str | None = None  # the class a tile gets


def _pixels(size: tuple[int, int] = (64, 48), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def _save(image: Image.Image, fmt: str, **kwargs) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        image.save(path, format=fmt, **kwargs)

    return write


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _exif_rotated() -> Callable[[Path], None]:
    """A 64x32 JPEG whose EXIF says: rotate 90 degrees to view (orientation 6)."""
    image = Image.fromarray(_pixels((64, 32)))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(image, "JPEG", exif=exif.tobytes(), quality=95)


def _multipage_tiff(path: Path) -> None:
    pages = [Image.fromarray(_pixels(seed=i)) for i in range(3)]
    pages[0].save(path, format="TIFF", save_all=True, append_images=pages[1:])


def _animated_gif(path: Path) -> None:
    frames = [Image.fromarray(_pixels(seed=i)).convert("P") for i in range(2)]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:])


def _corrupt_png() -> bytes:
    data = bytearray(_encoded(Image.fromarray(_pixels((64, 64))), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 40 : idat + 400] = b"\x00" * 360  # damaged image data, header intact
    return bytes(data)


def _link(target: str) -> Callable[[Path], None]:
    return lambda path: os.symlink(target, path)


RGB = Image.fromarray(_pixels())
PNG = _encoded(RGB, "PNG")
JPEG = _encoded(RGB, "JPEG", quality=90)

CASES = [
    Case("plain RGB PNG", "Forest/plain.png", _bytes(PNG), "tile", label="Forest"),
    Case("upper-case extension", "Forest/upper.PNG", _bytes(PNG), "tile", label="Forest"),
    Case("JPEG", "Forest/photo.jpg", _bytes(JPEG), "tile", label="Forest"),
    Case("progressive JPEG", "Forest/prog.jpeg", _save(RGB, "JPEG", progressive=True), "tile",
         label="Forest"),
    Case("PNG named .jpg", "Forest/png_as.jpg", _bytes(PNG), "tile", label="Forest"),
    Case("JPEG named .png", "Forest/jpeg_as.png", _bytes(JPEG), "tile", label="Forest"),
    Case("16-bit grey PNG", "Forest/grey16.png",
         _save(Image.fromarray(_pixels()[..., 0].astype(np.uint16) * 250), "PNG"), "tile",
         label="Forest"),
    Case("CMYK JPEG", "Forest/cmyk.jpg", _save(RGB.convert("CMYK"), "JPEG"), "tile",
         label="Forest"),
    Case("palette PNG", "Forest/palette.png", _save(RGB.convert("P"), "PNG"), "tile",
         label="Forest"),
    Case("RGBA PNG", "Forest/alpha.png", _save(RGB.convert("RGBA"), "PNG"), "tile",
         label="Forest"),
    Case("1-bit PNG", "Forest/bilevel.png", _save(RGB.convert("1"), "PNG"), "tile",
         label="Forest"),
    Case("grey + alpha PNG", "Forest/la.png", _save(RGB.convert("LA"), "PNG"), "tile",
         label="Forest"),
    Case("float32 TIFF", "Forest/float.tif",
         _save(Image.fromarray(_pixels()[..., 0].astype(np.float32) / 7.0), "TIFF"), "tile",
         label="Forest"),
    Case("LZW TIFF", "Forest/lzw.tiff", _save(RGB, "TIFF", compression="tiff_lzw"), "tile",
         label="Forest"),
    Case("not square", "Forest/wide.png", _save(Image.fromarray(_pixels((300, 100))), "PNG"),
         "tile", label="Forest"),
    Case("EXIF-rotated JPEG", "Forest/rotated.jpg", _exif_rotated(), "tile", label="Forest"),
    Case("nested below the class folder", "Forest/2019/nested.png", _bytes(PNG), "tile",
         label="Forest"),
    Case("symlink to a tile", "Forest/linked.png", _link("../Shrub/shrub_000.png"), "tile",
         label="Forest"),
    Case("zero bytes", "Forest/empty.png", _bytes(b""), "quarantined", "ingest", "empty file"),
    Case("text named .png", "Forest/text.png", _bytes(b"just some text\n" * 20), "quarantined",
         "ingest", "cannot identify image file text.png"),
    Case("HTML error page named .jpg", "Forest/error.jpg",
         _bytes(b"<html><body>403 Forbidden</body></html>"), "quarantined", "ingest",
         "UnidentifiedImageError"),
    Case("truncated PNG", "Forest/truncated.png", _bytes(PNG[: len(PNG) // 3]), "quarantined",
         "decode", ""),
    Case("truncated JPEG", "Forest/truncated.jpg", _bytes(JPEG[: len(JPEG) // 3]),
         "quarantined", "decode", "truncated"),
    Case("damaged PNG data", "Forest/corrupt.png", _bytes(_corrupt_png()), "quarantined",
         "decode", ""),
    Case("1x1 px", "Forest/dot.png", _save(Image.new("RGB", (1, 1)), "PNG"), "quarantined",
         "ingest", "too small: 1x1"),
    Case("20x20 px", "Forest/small.png", _save(Image.new("RGB", (20, 20)), "PNG"),
         "quarantined", "ingest", "too small: 20x20"),
    Case("huge (49 MP)", "Forest/huge.png", _save(Image.new("L", (7000, 7000)), "PNG"),
         "quarantined", "ingest", "too large: 7000x7000"),
    Case("PNG with 3 MB appended", "Forest/padded.png", _bytes(PNG + b"\0" * 3_000_000),
         "quarantined", "ingest", "too large: 3.0 MB on storage (ingest.max_tile_bytes is 2.0 MB)"),
    Case("multi-page TIFF", "Forest/pages.tif", _multipage_tiff, "quarantined", "ingest",
         "multi-page image (3 pages)"),
    Case("animated GIF named .png", "Forest/anim.png", _animated_gif, "quarantined", "ingest",
         "multi-page image (2 pages)"),
    Case("broken symlink", "Forest/gone.png", _link("/nonexistent/tile.png"), "quarantined",
         "ingest", "broken symbolic link"),
    Case("file in the root, no class", "loose.png", _bytes(PNG), "quarantined", "ingest",
         "not in a class folder"),
    Case("AppleDouble ._ file", "Forest/._plain.png", _bytes(b"\x00\x05\x16\x07"), "ignored",
         reason="hidden or OS file"),
    Case(".DS_Store", "Forest/.DS_Store", _bytes(b"\x00\x00\x00\x01Bud1"), "ignored",
         reason="hidden or OS file"),
    Case("__MACOSX folder", "__MACOSX/Forest/plain.png", _bytes(PNG), "ignored",
         reason="hidden or OS file: __MACOSX"),
    Case(".ipynb_checkpoints", "Forest/.ipynb_checkpoints/plain.png", _bytes(PNG), "ignored",
         reason="hidden or OS file: .ipynb_checkpoints"),
    Case("Thumbs.db", "Forest/Thumbs.db", _bytes(b"\xd0\xcf\x11\xe0"), "ignored",
         reason="hidden or OS file: Thumbs.db"),
    Case("README", "README.txt", _bytes(b"tiles from 2019"), "ignored", reason="not a tile format"),
    Case("WebP image", "Forest/modern.webp", _save(RGB, "WEBP"), "ignored",
         reason="not a tile format: .webp"),
    Case("symlink loop", "Shrub/loop", _link(".."), "ignored",
         reason="symbolic link to a folder that holds the input folder (a loop)"),
    Case("symlink to the disk's root", "Shrub/disk", _link("/"), "ignored",
         reason="symbolic link to a folder that holds the input folder (a loop): /"),
    Case("symlink to a folder listed twice", "Shrub/again", _link("../Forest/2019"), "ignored",
         reason="symbolic link to a folder already listed"),
    Case("symlink to a tile outside the folder", "Forest/outside.png",
         _link("../../elsewhere/linked_0.png"), "quarantined", "ingest",
         "symbolic link leaves the input folder"),
]  # fmt: skip

SYMLINKED_CLASS = "Linked"  # a class folder that is a symbolic link to a real folder elsewhere


def write_corpus(root: Path, elsewhere: Path) -> None:
    """The corpus below ``root``: good tiles in GOOD_CLASSES, every case, and a symlinked
    class folder (``Linked`` -> ``elsewhere``, outside ``root``, which holds two good tiles:
    refused unless ingest.follow_external_links)."""
    for k, label in enumerate(GOOD_CLASSES):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            image = Image.fromarray(_pixels(seed=10 * k + i))
            image.save(root / label / f"{label.lower()}_{i:03d}.png")
    elsewhere.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        Image.fromarray(_pixels(seed=100 + i)).save(elsewhere / f"linked_{i}.png")
    os.symlink(elsewhere, root / SYMLINKED_CLASS)
    for case in CASES:
        path = root / case.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        case.write(path)
