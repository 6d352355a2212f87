"""Single-file outputs are written whole: a failed save leaves the previous file, the temporary
keeps the extension that writers go by, and the file lands on blob storage the same way."""

from __future__ import annotations

import json

import pytest
from matplotlib.figure import Figure

from aerial_landuse.datasets import WholeFileDataset
from aerial_landuse.storage.atomic import LOCK_SUFFIX


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path):
    target = tmp_path / "metrics.json"
    dataset = WholeFileDataset(dataset="json.JSONDataset", filepath=str(target))
    dataset.save({"accuracy": 0.9})
    with pytest.raises(Exception, match="not JSON serializable"):
        dataset.save({"accuracy": object()})  # fails half-way through writing
    assert json.loads(target.read_text()) == {"accuracy": 0.9} and dataset.load()["accuracy"] == 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # nothing beside it


def test_the_wrapped_dataset_keeps_its_arguments_and_the_extension(tmp_path):
    figure = Figure()
    figure.subplots().plot([0, 1], [1, 0])
    picture = WholeFileDataset(
        dataset="matplotlib.MatplotlibDataset",
        filepath=str(tmp_path / "curves.png"),
        save_args={"dpi": 40},
    )
    picture.save(figure)  # matplotlib takes the format from the temporary file's extension
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG") and picture.exists()


def test_a_file_lands_whole_on_blob_storage(azurite):
    from aerial_landuse.storage import BlobAccount, create_containers

    credentials = {"connection_string": azurite.connection_string}
    create_containers({BlobAccount("t", credentials): {"wholefiles": ["x"]}})
    dataset = WholeFileDataset(
        dataset="text.TextDataset",
        filepath="abfs://wholefiles/r/report.md",
        credentials=credentials,
    )
    dataset.save("# first")
    dataset.save("# second")
    assert dataset.load() == "# second"
    import fsspec

    fs = fsspec.filesystem("abfs", skip_instance_cache=True, **credentials)
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find("wholefiles/r")) == [
        "report.md",
        f"report.md{LOCK_SUFFIX}",
    ]
    assert azurite.key not in repr(dataset)
