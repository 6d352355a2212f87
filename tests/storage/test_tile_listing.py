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


def _with_links(tmp_path):
    root = write_labelled_folder(tmp_path / "train", 2, ("Forest",), size=16)
    write_labelled_folder(tmp_path / "elsewhere", 2, ("Shrub",), size=16)
    (root / "Shrub").symlink_to(tmp_path / "elsewhere" / "Shrub")  # a class folder kept elsewhere
    (root / "Forest" / "b.png").symlink_to(tmp_path / "elsewhere" / "Shrub" / "shrub_000.png")
    (root / "Forest" / "disk").symlink_to("/")
    (root / "Forest" / "up").symlink_to(tmp_path)  # holds the input folder
    return root


def test_links_that_leave_the_folder_are_refused_with_their_target(tmp_path):
    root = _with_links(tmp_path)
    scan = TileFolderDataset(path=str(root)).load().scan()
    tiles = scan.tiles.set_index("relpath")
    assert tiles["reason"].isna().sum() == 2 and set(tiles["label"].dropna()) == {"Forest"}
    outside = str(tmp_path / "elsewhere" / "Shrub" / "shrub_000.png")
    assert tiles.loc["Forest/b.png", "reason"].endswith(
        f"-> {outside} (copy the file in, or set ingest.follow_external_links: true to follow "
        "such links)"
    )
    ignored = scan.ignored.set_index("path")["reason"]
    assert "leaves the input folder" in ignored[str(root / "Shrub")]
    assert "(a loop): /" in ignored[str(root / "Forest" / "disk")]
    assert "(a loop)" in ignored[str(root / "Forest" / "up")]
    upload_listing = TileFolderDataset(path=str(root)).load().list_tiles()  # what upload copies
    assert not upload_listing["path"].str.contains("Shrub|b.png").any()


def test_followed_links_list_their_tiles_and_every_listed_tile_has_a_thumbnail(tmp_path):
    root = _with_links(tmp_path)
    folder = TileFolderDataset(path=str(root)).load()
    scan = folder.scan(follow_external_links=True)
    used = scan.tiles[scan.tiles["reason"].isna()]
    assert sorted(used["relpath"]) == [
        "Forest/b.png",
        "Forest/forest_000.png",
        "Forest/forest_001.png",
        "Shrub/shrub_000.png",
        "Shrub/shrub_001.png",
    ]
    ignored = scan.ignored.set_index("path")["reason"]  # loops stay unwalked even so
    assert "(a loop)" in ignored[str(root / "Forest" / "disk")]
    images = folder.image_loaders()
    assert all(images[relpath]().size == (16, 16) for relpath in used["relpath"])
    assert sorted(images) == sorted(folder.list_tiles()["relpath"])  # iterating lists the folder
    with pytest.raises(KeyError):
        images["../elsewhere/Shrub/shrub_000.png"]


def test_a_regions_companion_files_are_neither_tiles_nor_ignored(tmp_path):
    root = write_labelled_folder(tmp_path / "region", 2, ("Forest",), size=16)
    (root / "tile_summaries.csv").write_text("filename,llcrnrlat\n")
    (root / "notes.csv").write_text("kept out")
    (root / "Forest" / "tile_summaries.csv").write_text("not the region's: below the root")
    dataset = TileFolderDataset(path=str(root), labelled=False, companions=["tile_summaries.csv"])
    scan = dataset.load().scan()
    assert sorted(p.rsplit("/", 2)[-2:][-1] for p in scan.ignored["path"]) == [
        "notes.csv",
        "tile_summaries.csv",
    ]
    assert not scan.ignored["path"].str.endswith(f"{root.name}/tile_summaries.csv").any()
    assert len(scan.tiles) == 2
