"""``CogDataset``: a raster layer saved as a valid COG (through a local copy, moved in whole by
storage/atomic.py, as the GeoPackage is on blob storage) and loaded back the same."""

from __future__ import annotations

import numpy as np
from rasterio.transform import from_origin

from aerial_landuse.core.tiles.cog import CogLayer, is_valid_cog
from aerial_landuse.datasets import CogDataset, CogFolderDataset


def _layer() -> CogLayer:
    pixels = np.arange(1, 13, dtype=np.uint8).reshape(1, 3, 4) % 3 + 1
    palette = {0: (0, 0, 0, 0), 1: (255, 0, 0, 255), 2: (0, 255, 0, 255), 3: (0, 0, 255, 255)}
    return CogLayer(pixels, "EPSG:32619", from_origin(309_792, 4_700_096, 224, 224), 0, palette,
                    ["land use"], "mode", {"CLASS_1": "Developed"})  # fmt: skip


def test_a_layer_round_trips_as_a_valid_cog(tmp_path):
    local = CogDataset(str(tmp_path / "out" / "land_use.tif"))
    local.save(_layer())
    assert is_valid_cog(tmp_path / "out" / "land_use.tif")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["land_use.tif"]  # nothing staged
    loaded = local.load()
    assert np.array_equal(loaded.pixels, _layer().pixels) and loaded.crs == "EPSG:32619"
    assert loaded.colormap[2][:3] == (0, 255, 0) and loaded.band_tags["CLASS_1"] == "Developed"
    assert loaded.transform == _layer().transform and local.exists()


def test_a_folder_of_cogs_lists_what_it_holds_also_nothing(tmp_path):
    """A region of tiles saves no raster, and the folder exists (reruns see the node done); a
    raster an earlier run wrote and this one does not is removed."""
    folder = CogFolderDataset(str(tmp_path / "rasters"))
    assert not folder.exists()
    folder.save({"land_use": _layer(), "probabilities": _layer()})
    assert sorted(folder.load()) == ["land_use", "probabilities"]
    assert is_valid_cog(tmp_path / "rasters" / "probabilities.tif")
    folder.save({})
    assert folder.exists() and folder.load() == {}
    assert [p.name for p in (tmp_path / "rasters").iterdir()] == ["rasters.json"]
