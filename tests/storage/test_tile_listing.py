import pickle

import pytest
from kedro.io import DatasetError

from aerial_landuse.datasets import TileFolderDataset
from tests.conftest import write_labelled_folder


def test_loads_a_handle_that_lists_tiles_and_reads_bytes(tmp_path):
    write_labelled_folder(tmp_path / "train", 2, ("Forest", "Shrub"), size=16)
    (tmp_path / "train" / "README.txt").write_text("ignored")
    tiles = TileFolderDataset(path=str(tmp_path / "train")).load()
    listing = tiles.list_tiles()
    assert len(listing) == 4 and set(listing["label"]) == {"Forest", "Shrub"}
    storage = pickle.loads(pickle.dumps(tiles.storage))  # travels to executors
    assert storage.read_bytes(listing["path"].iloc[0])[:4] == b"\x89PNG"


def test_is_read_only_and_hides_credentials(tmp_path):
    dataset = TileFolderDataset(path=str(tmp_path), credentials={"account_key": "s3cr3t"})
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save({"tiles": []})
    assert "s3cr3t" not in repr(dataset) and "s3cr3t" not in repr(dataset.load())
