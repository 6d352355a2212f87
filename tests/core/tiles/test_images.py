"""Tile decoding: the fast PNG path gives Pillow's pixels; every other input goes through Pillow."""

import io

import numpy as np
import pytest
from PIL import Image

from aerial_landuse.core.tiles.images import TileLimits, decode_tile


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _pillow_rgb(data: bytes, size: int) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR))


@pytest.fixture
def noisy_rgb() -> Image.Image:
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_rgb_png_at_size_decodes_to_exactly_pillows_pixels(noisy_rgb):
    data = _png(noisy_rgb)
    decoded = decode_tile(data, 32)
    assert decoded.dtype == np.uint8 and decoded.shape == (32, 32, 3)
    np.testing.assert_array_equal(decoded, np.asarray(noisy_rgb))


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
def test_other_png_modes_become_rgb(noisy_rgb, mode):
    data = _png(noisy_rgb.convert(mode))
    np.testing.assert_array_equal(decode_tile(data, 32), _pillow_rgb(data, 32))


def test_png_of_another_size_is_resized(noisy_rgb):
    data = _png(noisy_rgb)
    np.testing.assert_array_equal(decode_tile(data, 16), _pillow_rgb(data, 16))


def test_sixteen_bit_png_is_rescaled_not_clipped():
    ramp = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 60).astype(np.uint16)
    decoded = decode_tile(_png(Image.fromarray(ramp)), 32)
    assert decoded.shape == (32, 32, 3) and decoded.max() == 255 and decoded.min() == 0


def test_truncated_png_fails_with_pillows_reason(noisy_rgb):
    with pytest.raises(OSError, match="truncated|broken|image file"):
        decode_tile(_png(noisy_rgb)[:200], 32)


def test_quarantine_reason_names_the_file_not_the_file_object(tmp_path):
    import fsspec

    from aerial_landuse.core.tiles.images import failure_reason, probe_image

    path = tmp_path / "broken.png"
    path.write_bytes(b"not a png at all")
    with fsspec.filesystem("file").open(str(path), "rb") as handle:
        with pytest.raises(Exception) as raised:
            probe_image(handle, TileLimits(min_side=32, max_megapixels=40, max_bytes=1 << 26))
    reason = failure_reason(raised.value, str(path))
    assert reason.startswith("UnidentifiedImageError: cannot identify image file")
    assert "broken.png" in reason and " object at 0x" not in reason


def test_exif_orientation_is_applied_before_resizing():
    from aerial_landuse.core.tiles.images import upright

    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[:, :32] = 255  # left half white: after a 90 degree turn it is the top or bottom half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif.tobytes(), quality=100)
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        assert upright(image).size == (32, 64)
    decoded = decode_tile(buffer.getvalue(), 64).astype(int)
    assert decoded[:24].mean() > 200 and decoded[40:].mean() < 60  # white on top after turning


@pytest.mark.parametrize(
    ("size", "words"),
    [((1, 1), "too small: 1x1"), ((31, 400), "too small: 31x400"), ((8000, 6000), "too large")],
)
def test_tiles_outside_the_size_limits_are_refused_with_the_rule(size, words):
    from aerial_landuse.core.tiles.images import TileRuleError, probe_image

    buffer = io.BytesIO()
    Image.new("L", size).save(buffer, format="PNG")
    buffer.seek(0)
    with pytest.raises(TileRuleError, match=words):
        probe_image(buffer, TileLimits(min_side=32, max_megapixels=40, max_bytes=1 << 26))


def test_decode_checks_a_swapped_tile_against_the_limits_before_decoding_it():
    from aerial_landuse.core.tiles.images import TileRuleError

    limits = TileLimits(min_side=32, max_megapixels=40, max_bytes=1 << 20)
    huge = io.BytesIO()
    Image.new("L", (8000, 6000)).save(huge, format="PNG")  # 48 MP, a few hundred kB
    with pytest.raises(TileRuleError, match="too large: 8000x6000"):
        decode_tile(huge.getvalue(), 224, limits)
    with pytest.raises(TileRuleError, match="max_tile_bytes.*changed since ingest"):
        decode_tile(b"\x89PNG\r\n\x1a\n" + b"\0" * (1 << 20), 224, limits)
    tiny = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tiny, format="PNG")
    with pytest.raises(TileRuleError, match="too small: 8x8"):
        decode_tile(tiny.getvalue(), 8, limits)  # the fast PNG path checks too


def test_reads_stop_one_byte_past_the_limit(tmp_path):
    from aerial_landuse.storage import Storage

    (tmp_path / "big.png").write_bytes(b"x" * 5000)
    assert len(Storage().read_bytes(str(tmp_path / "big.png"), 1000)) == 1001
    assert len(Storage().read_bytes(str(tmp_path / "big.png"))) == 5000
