"""Cells of real GeoTIFF/COG files (generated NAIP-like quads): read by window, reprojected from
another UTM zone, across the seam of two files, resampled from any ground resolution, with the
bands asked for; nodata collars counted, bad files named."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer
from rasterio.transform import from_origin

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.geometry.cell_grid import grid_of
from aerial_landuse.core.inference import FeaturizeSettings, featurize_batches, model_key
from aerial_landuse.core.tiles.cog import is_valid_cog, write_cog
from aerial_landuse.core.tiles.images import TileLimits
from aerial_landuse.core.tiles.raster_cells import (
    CellReader,
    ChipSettings,
    cell_decoder,
    pixel_interleaved,
    quick_look,
    read_source_header,
    read_source_headers,
)

UTM19, UTM18 = "EPSG:32619", "EPSG:32618"
LEFT, TOP = 300_000.0, 4_700_000.0  # UTM 19N metres, near the zone's western edge
CELL = 224.0


def _pattern(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """R, G, B, NIR as smooth functions of the ground position (UTM 19N), never 0 (nodata)."""
    return np.stack(
        [
            100 + 60 * np.sin(x / 700.0),
            100 + 60 * np.cos(y / 900.0),
            np.full_like(x, 40.0),
            np.full_like(x, 220.0),
        ]
    ).astype(np.uint8)


def write_quad(
    path: Path, crs: str, left: float, top: float, pixels: int, res: float, collar: int = 0
) -> Path:
    """A 4-band uint8 COG of ``pixels`` x ``pixels`` at ``res`` m in ``crs``, nodata 0 in a
    ``collar`` of pixels along its edges (as NAIP quarter quads have)."""
    centres = (np.arange(pixels) + 0.5) * res
    x, y = np.meshgrid(left + centres, top - centres)
    if crs != UTM19:
        x, y = Transformer.from_crs(crs, UTM19, always_xy=True).transform(x, y)
    data = _pattern(x, y)
    if collar:
        data[:, :collar, :] = data[:, -collar:, :] = 0
        data[:, :, :collar] = data[:, :, -collar:] = 0
    return write_cog(path, data, crs, from_origin(left, top, res, res), nodata=0)


@pytest.fixture(scope="module")
def quads(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("quads")
    side = 1000  # pixels of 1 m: two 1 km quads, west and east, overlapping by 40 m as
    # NAIP's quarter quads do, each with a 20 m nodata collar
    return [
        write_quad(folder / "west.tif", UTM19, LEFT, TOP, side, 1.0, collar=20),
        write_quad(folder / "east.tif", UTM19, LEFT + 960, TOP, side, 1.0, collar=20),
    ]


def _reader(paths, bands=(1, 2, 3), size=32, epsg=None, max_nodata_share=0.05):
    sources = [read_source_header(str(p)) for p in paths]
    grid = grid_of(sources, CELL, epsg)
    return grid, CellReader(grid, sources, ChipSettings(size, bands, max_nodata_share))


def test_the_quads_are_valid_cogs_and_their_headers_are_read(quads):
    assert all(is_valid_cog(p) for p in quads)
    header = read_source_header(str(quads[0]))
    assert header.band_count == 4 and header.dtype == "uint8" and header.nodata == 0
    assert header.bounds == (LEFT, TOP - 1000, LEFT + 1000, TOP)
    assert header.resolution == (1.0, 1.0)


def test_the_grid_snaps_to_multiples_of_the_cell_size(quads):
    grid, _ = _reader(quads)
    assert grid.crs == UTM19 and grid.col_min == int(LEFT // CELL)
    left, bottom, right, top = grid.bounds(grid.col_min, grid.row_min)
    assert left % CELL == 0 and bottom % CELL == 0 and right - left == CELL
    assert grid.bounds(grid.col_min, grid.row_min)[0] <= LEFT < right
    assert grid.cell_id(1339, 20982) == "32619_1339_20982"


def test_a_cell_reads_the_pattern_at_its_place_resampled_to_the_input_size(quads):
    grid, reader = _reader(quads, size=32)
    col, row = int((LEFT + 400) // CELL), int((TOP - 400) // CELL)
    with reader:
        chip = reader.read(col, row)
    assert chip.error is None and chip.pixels.shape == (32, 32, 3) and chip.nodata_share == 0
    left, bottom, right, top = grid.bounds(col, row)
    centres = left + (np.arange(32) + 0.5) * CELL / 32
    expected_red = 100 + 60 * np.sin(centres / 700.0)
    assert np.abs(chip.pixels[16, :, 0].astype(float) - expected_red).max() <= 2.5
    assert (chip.pixels[..., 2] == 40).all()


def test_a_cell_at_the_files_resolution_is_its_pixels_copied_without_a_kernel(quads, monkeypatch):
    """224 m at 1 m is 224 pixels: the chip is the file's window exactly, read as a plain copy
    whatever ``resampling`` says (GDAL would run the averaging kernel at scale 1 too)."""
    import rasterio
    from rasterio.io import DatasetReader

    grid, reader = _reader(quads, size=224)
    col, row = int((LEFT + 400) // CELL), int((TOP - 400) // CELL)
    kernels = []
    read = DatasetReader.read
    monkeypatch.setattr(
        DatasetReader,
        "read",
        lambda self, *a, **k: kernels.append(k["resampling"]) or read(self, *a, **k),
    )
    with reader:
        chip = reader.read(col, row)
    left, bottom, right, top = grid.bounds(col, row)
    with rasterio.open(quads[0]) as dataset:
        window = rasterio.windows.from_bounds(left, bottom, right, top, dataset.transform)
        expected = read(dataset, [1, 2, 3], window=window).transpose(1, 2, 0)
    assert np.array_equal(chip.pixels, expected)
    assert [k.name for k in kernels] == ["nearest"]


def test_a_cell_across_the_seam_of_two_files_is_whole(quads):
    _, reader = _reader(quads)
    seam_col = int((LEFT + 980) // CELL)  # the cell spans both, and both collars
    with reader:
        chip = reader.read(seam_col, int((TOP - 500) // CELL))
    assert chip.error is None and chip.nodata_share == 0


def test_cells_in_a_nodata_collar_or_beyond_the_files_are_reported_with_their_share(quads):
    _, reader = _reader(quads)
    with reader:
        outside = reader.read(int(LEFT // CELL) - 3, int((TOP - 500) // CELL))
        collar = reader.read(int(LEFT // CELL), int((TOP - 500) // CELL))  # the west edge
    assert outside.pixels is None and outside.nodata_share == 1.0
    assert outside.error.startswith("nodata: 100%")
    assert collar.pixels is None and 0.05 < collar.nodata_share < 0.9
    _, lenient = _reader(quads, max_nodata_share=0.9)
    with lenient:
        assert lenient.read(int(LEFT // CELL), int((TOP - 500) // CELL)).pixels is not None


def test_the_bands_asked_for_come_in_that_order(quads):
    _, reader = _reader(quads, bands=(4, 1, 2))  # colour infrared: NIR, R, G
    with reader:
        chip = reader.read(int((LEFT + 400) // CELL), int((TOP - 400) // CELL))
    assert (chip.pixels[..., 0] == 220).all()
    _, too_many = _reader(quads, bands=(5, 1, 2))
    with too_many:
        broken = too_many.read(int((LEFT + 400) // CELL), int((TOP - 400) // CELL))
    assert broken.pixels is None and "need 5, it has 4" in broken.error


def test_a_file_in_another_utm_zone_is_reprojected_onto_the_grid(quads, tmp_path):
    """The same ground, from a file in zone 18N at 0.6 m: the chips match the zone-19 file's."""
    x18, y18 = Transformer.from_crs(UTM19, UTM18, always_xy=True).transform(LEFT + 300, TOP - 300)
    other = write_quad(tmp_path / "zone18.tif", UTM18, x18 - 100, y18 + 100, 900, 0.6)
    col, row = int((LEFT + 400) // CELL), int((TOP - 400) // CELL)
    _, same_zone = _reader(quads[:1], epsg=32619)
    _, other_zone = _reader([other], epsg=32619)
    with same_zone, other_zone:
        a, b = same_zone.read(col, row), other_zone.read(col, row)
    assert a.error is None and b.error is None
    assert np.abs(a.pixels.astype(int) - b.pixels.astype(int)).max() <= 3


def test_bad_inputs_are_named_with_their_fix(tmp_path):
    (tmp_path / "notes.tif").write_text("not a raster")
    with pytest.raises(ValueError, match="notes.tif is not a raster"):
        read_source_header(str(tmp_path / "notes.tif"))
    plain = write_cog(
        tmp_path / "plain.tif", np.ones((3, 64, 64), np.uint8), None, from_origin(0, 64, 1, 1)
    )
    with pytest.raises(ValueError, match="plain.tif has no CRS"):
        read_source_header(str(plain))
    degrees = write_cog(
        tmp_path / "wgs84.tif", np.ones((3, 64, 64), np.uint8), "EPSG:4326",
        from_origin(-71, 42, 0.0001, 0.0001),
    )  # fmt: skip
    with pytest.raises(UserInputError, match="raster.crs"):
        grid_of([read_source_header(str(degrees))], CELL)
    with pytest.raises(UserInputError, match="does not overlap"):
        grid_of([read_source_header(str(degrees))], CELL, epsg=32619, area=(0, 0, 10, 10))


def test_many_headers_are_read_at_once_in_their_order_and_the_first_bad_file_named(quads, tmp_path):
    urls = [str(p) for p in quads] * 5
    headers = read_source_headers(urls, threads=4)
    assert headers == [read_source_header(url) for url in urls]
    for name in ("first.tif", "second.tif"):
        (tmp_path / name).write_text("not a raster")
    bad = [urls[0], str(tmp_path / "first.tif"), urls[1], str(tmp_path / "second.tif")]
    with pytest.raises(ValueError, match="first.tif is not a raster"):
        read_source_headers(bad, threads=4)


def test_executors_featurize_cells_straight_from_the_files(spark, quads, lite0_network):
    """The cells of the two quads through Spark tasks and the real network: every cell inside
    gets features, the ones in the void get their reason, and the rows stay in order."""
    sources = [read_source_header(str(p)) for p in quads]
    grid = grid_of(sources, CELL)
    settings = ChipSettings(lite0_network.spec.image_size)
    ids = [grid.cell_id(c, r) for r in range(grid.row_min, grid.row_max + 1)
           for c in range(grid.col_min - 1, grid.col_max + 1)]  # fmt: skip
    frame = spark.createDataFrame([(i, i) for i in ids], "id string, path string").repartition(2)
    body = partial(
        featurize_batches,
        decoder=partial(cell_decoder, grid, sources, settings),
        network_bytes=lambda: lite0_network.uint8_bytes,
        key=model_key(lite0_network),
        settings=FeaturizeSettings(8, 1, 2, 1, 1, limits=TileLimits(1, 1, 1)),  # tiles only
    )
    schema = "id string, path string, features array<float>, error string"
    rows = {r["id"]: r for r in frame.mapInArrow(body, schema).collect()}
    assert sorted(rows) == sorted(ids)
    inside = rows[grid.cell_id(int((LEFT + 400) // CELL), int((TOP - 400) // CELL))]
    assert inside["error"] is None and len(inside["features"]) == lite0_network.spec.feature_dim
    void = rows[grid.cell_id(grid.col_min - 1, grid.row_min)]
    assert void["features"] is None and void["error"].startswith("nodata: 100%")


def test_a_quick_look_is_the_imagery_on_the_grid_read_from_overviews(quads):
    sources = [read_source_header(str(p)) for p in quads]
    grid = grid_of(sources, CELL)
    look = quick_look(grid, sources, (1, 2, 3), max_px=48)  # 10 x 5 cells: 4 px per cell
    assert look.cell_px == 4 and look.pixels.shape == (grid.rows * 4, grid.cols * 4, 3)
    row, col = np.nonzero(look.valid)
    x = grid.col_min * CELL + (col + 0.5) * CELL / 4  # each valid pixel's ground position
    y = (grid.row_max + 1) * CELL - (row + 0.5) * CELL / 4
    assert LEFT <= x.min() and x.max() <= LEFT + 1960 and TOP - 1000 <= y.min() and y.max() <= TOP
    expected_red = 100 + 60 * np.sin(x / 700.0)  # the ground's pattern, averaged over 56 m
    inner = (x > LEFT + 60) & (x < LEFT + 1900) & (y < TOP - 60) & (y > TOP - 940)
    assert np.abs(look.pixels[row, col, 0][inner] - expected_red[inner]).max() < 12
    assert look.valid.mean() > 0.6 and not look.valid[:, -1].any()  # beyond the east file


def test_pixel_interleaved_is_the_contiguous_transpose_of_the_bands():
    bands = np.random.default_rng(0).integers(0, 256, (3, 5, 7), dtype=np.uint8)
    pixels = pixel_interleaved(bands)
    assert pixels.shape == (5, 7, 3) and pixels.flags["C_CONTIGUOUS"]
    assert np.array_equal(pixels, bands.transpose(1, 2, 0))


def test_a_jpeg_cog_s_nodata_collar_becomes_its_internal_mask_and_counts_as_nodata(tmp_path):
    """3-band YCbCr JPEG COGs (NAIP's visualization product, most web orthophotos) carry their
    void as an internal mask (rio-cogeo's jpeg profile): each cell's nodata share is the one the
    same pixels give as a deflate COG with nodata 0."""
    pixels = np.full((3, 448, 448), 120, np.uint8)
    pixels[:, :, :112] = 0  # a collar
    transform = from_origin(LEFT, TOP, 1.0, 1.0)
    shares = {}
    for profile in ("jpeg", "deflate"):
        path = write_cog(
            tmp_path / f"{profile}.tif", pixels, UTM19, transform, nodata=0, cog_profile=profile
        )
        assert is_valid_cog(path)
        header = read_source_header(str(path))
        grid = grid_of([header], CELL)
        with CellReader(grid, [header], ChipSettings(224, max_nodata_share=1.0)) as reader:
            chips = [
                reader.read(col, row)
                for row in range(grid.row_min, grid.row_min + grid.rows)
                for col in range(grid.col_min, grid.col_min + grid.cols)
            ]
        shares[profile] = [round(chip.nodata_share, 4) for chip in chips]
        assert any(chip.nodata_share == 0.0 and abs(int(chip.pixels.mean()) - 120) <= 2
                   for chip in chips)  # fmt: skip
        shares[f"{profile} nodata"] = header.nodata
    assert shares["jpeg nodata"] is None and shares["deflate nodata"] == 0  # mask against value
    assert shares["jpeg"] == shares["deflate"] and len(set(shares["jpeg"])) > 2
