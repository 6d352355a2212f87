"""What `python -m aerial_landuse.tools.upload` copies: a tile folder's tiles, a labelled folder
of rasters and the land cover that labels it whole (hidden files left out), absent folders
skipped. (Copying into Azurite, idempotent, with a progress bar: test_azurite_e2e.py.)"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from kedro.io import DataCatalog

from aerial_landuse.tools.upload import _folder_params, plan
from tests.conftest import write_labelled_folder, write_labelled_raster_set

FOLDERS = {
    "train_tiles": ("train", True),
    "test_tiles": ("test", True),
    "score_tiles": ("region", False),
    "land_cover": ("land_cover", False),
}


def _catalog(root: Path) -> DataCatalog:
    return DataCatalog.from_config(
        {
            name: {
                "type": "aerial_landuse.datasets.TileFolderDataset",
                "path": str(root / folder),
                "labelled": labelled,
            }
            for name, (folder, labelled) in FOLDERS.items()
        }
    )


def test_a_labelled_raster_set_and_its_land_cover_are_copied_whole(tmp_path):
    source = tmp_path / "local"
    write_labelled_raster_set(source / "train", source / "land_cover")
    (source / "land_cover" / "nlcd.tif.aux.xml").write_text("<PAMDataset/>")
    (source / "train" / ".cache").mkdir()
    (source / "train" / ".cache" / "x.tif").write_bytes(b"hidden")
    write_labelled_folder(source / "test", 1, ("Forest", "Developed"))
    transfers = plan(_catalog(source), _catalog(tmp_path / "blob"))
    copied = {
        str(Path(t.source).relative_to(source)): str(Path(t.destination).relative_to(tmp_path))
        for t in transfers
    }
    assert copied == {
        "train/naip_0.tif": "blob/train/naip_0.tif",
        "train/naip_1.tif": "blob/train/naip_1.tif",
        "land_cover/nlcd.tif": "blob/land_cover/nlcd.tif",
        "land_cover/nlcd.tif.aux.xml": "blob/land_cover/nlcd.tif.aux.xml",
        "test/Forest/forest_000.png": "blob/test/Forest/forest_000.png",
        "test/Developed/developed_000.png": "blob/test/Developed/developed_000.png",
    }
    assert all(t.size > 0 for t in transfers)


def test_the_folders_to_copy_are_named_as_kedro_run_names_them():
    given = _folder_params("train_folder=naipdemo2016,land_cover_folder=nlcddemo2016")
    assert given == {"train_folder": "naipdemo2016", "land_cover_folder": "nlcddemo2016"}
    assert _folder_params("") == {}
    with pytest.raises(argparse.ArgumentTypeError, match="trainfolder: give name=value pairs"):
        _folder_params("trainfolder=x")
    with pytest.raises(argparse.ArgumentTypeError, match="naipdemo2016: give"):
        _folder_params("naipdemo2016")
