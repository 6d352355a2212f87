"""A region folder of GeoTIFF/COG files on any storage: its files found (or listed by STAC), their
headers read through the storage's own filesystem, a cell's image for the report; bad files and
ambiguous folders named with their fix."""

from __future__ import annotations

import datetime as dt
import io
import json
import pickle

import numpy as np
import pystac
import pytest
from PIL import Image

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.tiles.demo_rasters import MosaicLayout, write_quads
from aerial_landuse.storage import Storage, TileFolder
from aerial_landuse.storage.raster_region import (
    CellImages,
    CellSource,
    rasterio_opener,
    read_raster_region,
    region_raster_files,
)
from tests.conftest import parameters

RASTER = parameters("ingest")["raster"]
LAYOUT = MosaicLayout(quad_px=512, overlap_px=32, collar_px=8)


@pytest.fixture(scope="module")
def quads(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quads")
    write_quads(folder, "quad", np.zeros((16, 31), int), 32.0, LAYOUT, seed=2)
    return folder


def _folder(root, storage: Storage | None = None) -> TileFolder:
    return TileFolder(str(root), labelled=False, storage=storage or Storage())


def test_the_tifs_of_a_folder_are_its_files_hidden_ones_left_out(quads, tmp_path):
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "old.tif").write_bytes(b"x")
    for path in quads.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    files = region_raster_files(_folder(tmp_path), "image")
    assert files == [str(tmp_path / "quad_0.tif"), str(tmp_path / "quad_1.tif")]


def test_a_stac_json_in_the_folder_lists_the_files(quads, tmp_path):
    items = [
        pystac.Item(f"q{i}", None, None, dt.datetime(2021, 7, 1, tzinfo=dt.UTC), {})
        for i in range(2)
    ]
    for i, item in enumerate(items):
        item.add_asset("image", pystac.Asset(str(quads / f"quad_{i}.tif")))
    (tmp_path / "items.json").write_text(json.dumps(pystac.ItemCollection(items).to_dict()))
    (tmp_path / "stray.tif").write_bytes(b"not listed")
    assert region_raster_files(_folder(tmp_path), "image") == [
        str(quads / "quad_0.tif"),
        str(quads / "quad_1.tif"),
    ]
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(UserInputError, match="holds 2 JSON files"):
        region_raster_files(_folder(tmp_path), "image")


def test_headers_are_read_through_the_storages_filesystem(quads):
    """On object storage rasterio reads through the dataset's fsspec filesystem (its opener):
    fsspec's in-memory filesystem stands for a blob container here."""
    storage = Storage(protocol="memory")
    for path in quads.iterdir():
        storage.fs.pipe_file(f"/region/{path.name}", path.read_bytes())
    folder = _folder("/region", storage)
    files = region_raster_files(folder, "image")
    assert files == ["/region/quad_0.tif", "/region/quad_1.tif"] and rasterio_opener(storage)
    region = read_raster_region(folder, files, RASTER)
    assert region.grid.crs == "EPSG:32619" and region.grid.cells == 24
    cell = f"32619_{region.grid.col_min + 2}_{region.grid.row_min + 1}"  # inside the imagery
    image = CellImages(region, storage, [cell], size=64)[cell]()
    assert image.size == (64, 64) and np.asarray(image).std() > 0
    # fine-tuning reads cells by id as a TileSource: the same chip, losslessly, after pickling
    source = pickle.loads(pickle.dumps(CellSource(region, storage, 64)))
    chip = Image.open(io.BytesIO(source.read_bytes(cell)))
    assert chip.format == "PNG" and np.array_equal(np.asarray(chip), np.asarray(image))
    # fine-tuning leaves out the cells featurize would quarantine: too much nodata
    grid = region.grid
    every = [
        grid.cell_id(c, r)
        for c in range(grid.col_min, grid.col_max + 1)
        for r in range(grid.row_min, grid.row_max + 1)
    ]
    errors = source.unreadable(every)
    assert cell not in errors and errors and all("nodata" in e for e in errors.values())
    with pytest.raises(OSError, match="nodata"):
        source.read_bytes(next(iter(errors)))


def test_a_region_on_blob_storage_is_read_beside_a_container_named_test(quads, azurite):
    """Azurite, with the project's blob layout (a ``test`` container of test tiles): rasterio
    probes an opener with ``size("test")``, which a plain callable over adlfs fails."""
    from aerial_landuse.storage import storage_location

    storage, root = storage_location(
        "abfs://rasterregion/", {"connection_string": azurite.connection_string}
    )
    for container in ("rasterregion", "test"):
        storage.fs.mkdir(container)
    storage.fs.pipe_file("test/Forest/tile.png", b"a test tile")
    for path in sorted(quads.iterdir()):
        storage.fs.put_file(str(path), f"rasterregion/{path.name}")
    folder = _folder(root, storage)
    region = read_raster_region(folder, region_raster_files(folder, "image"), RASTER)
    assert [s.url for s in region.sources] == ["rasterregion/quad_0.tif", "rasterregion/quad_1.tif"]
    cell = f"32619_{region.grid.col_min + 2}_{region.grid.row_min + 1}"
    assert CellImages(region, storage, [cell], size=32)[cell]().size == (32, 32)


def test_a_file_that_is_no_raster_is_named(tmp_path):
    (tmp_path / "mosaic.tif").write_bytes(b"not a tiff")
    folder = _folder(tmp_path)
    with pytest.raises(UserInputError, match=r"mosaic\.tif is not a raster GDAL can read"):
        read_raster_region(folder, region_raster_files(folder, "image"), RASTER)


@pytest.mark.parametrize(
    "bands, dtype, message",
    [
        (3, "uint8", r"mixes band counts \(.*third\.tif has 3, .*quad_\d\.tif has 4\)"),
        (4, "uint16", r"third\.tif .* holds uint16 pixels.*gdal_translate -ot Byte -scale"),
    ],
)
def test_files_of_another_depth_or_band_count_are_named_with_the_fix(
    quads, tmp_path, bands, dtype, message
):
    from rasterio.transform import from_origin

    from aerial_landuse.core.tiles.cog import write_cog

    for path in quads.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    pixels = np.full((bands, 64, 64), 9, dtype=dtype)
    write_cog(tmp_path / "third.tif", pixels, "EPSG:32619", from_origin(311_000, 4_700_000, 1, 1))
    folder = _folder(tmp_path)
    with pytest.raises(UserInputError, match=message):
        read_raster_region(folder, region_raster_files(folder, "image"), RASTER)
    with pytest.raises(UserInputError, match=r"has 4 band\(s\) but ingest.raster.bands asks"):
        read_raster_region(
            folder, region_raster_files(folder, "image")[:1], {**RASTER, "bands": [5, 1, 2]}
        )
