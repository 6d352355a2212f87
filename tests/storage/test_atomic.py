"""Outputs are replaced only by complete ones: a failed save leaves the previous output intact,
a half-written folder is not trusted, a run stopped mid-switch is read from its previous version
and repaired by the next writer, and concurrent writers take turns under a lock."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import fsspec
import pytest
from kedro.io import DatasetError
from pyspark.sql import functions as F
from pyspark.sql import types as T

from aerial_landuse.datasets import FsspecSparkDataset
from aerial_landuse.storage.atomic import (
    PREVIOUS_SUFFIX,
    STAGING_SUFFIX,
    SUCCESS_FILE,
    OutputLockTimeout,
    complete_version,
    output_lock,
    read_one_version,
    writing_folder,
)


def _frame(spark, rows: int):
    return spark.range(rows).withColumn("value", F.col("id") * 2)


def _failing_frame(spark, rows: int = 200):
    """A frame whose write fails half-way (a task raises), like an outage or a bad parameter."""

    @F.udf(T.LongType())
    def boom(i: int) -> int:
        if i == rows // 2:
            raise RuntimeError("storage went away")
        return i

    return spark.range(rows).repartition(4).withColumn("value", boom("id"))


def _values(dataset) -> list[int]:
    return sorted(r["id"] for r in dataset.load().collect())


@pytest.fixture
def dataset_at(tmp_path):
    def make(path):
        return FsspecSparkDataset(filepath=str(path))

    return make


def test_a_failed_save_leaves_the_previous_output_intact(spark, tmp_path, dataset_at):
    dataset = dataset_at(tmp_path / "features.parquet")
    dataset.save(_frame(spark, 10))
    with pytest.raises(Exception, match="storage went away"):
        dataset.save(_failing_frame(spark))
    assert dataset.exists() and _values(dataset) == list(range(10))
    dataset.save(_frame(spark, 5))  # the next save clears what the failed one left
    assert _values(dataset) == list(range(5))
    assert not list(tmp_path.glob(f"features.parquet{STAGING_SUFFIX}*"))


def test_a_half_written_folder_is_not_trusted(spark, tmp_path, dataset_at):
    folder = tmp_path / "features.parquet"
    dataset_at(folder).save(_frame(spark, 3))
    (folder / "_SUCCESS").unlink()  # as a copy killed mid-way leaves it
    dataset = dataset_at(folder)
    assert not dataset.exists()  # so --only-missing-outputs writes it again
    with pytest.raises(DatasetError, match="(incomplete|no complete dataset)"):
        dataset.load()


def test_a_failed_save_on_blob_storage_leaves_the_previous_output(spark, azurite):
    from aerial_landuse.storage import BlobAccount, create_containers

    credentials = {"connection_string": azurite.connection_string}
    create_containers({BlobAccount("t", credentials): {"atomic": ["x"]}})
    dataset = FsspecSparkDataset(filepath="abfs://atomic/f.parquet", credentials=credentials)
    dataset.save(_frame(spark, 6))
    with pytest.raises(Exception, match="storage went away"):
        dataset.save(_failing_frame(spark))
    assert _values(dataset) == list(range(6))
    dataset.save(_frame(spark, 2))
    assert _values(dataset) == [0, 1]


def test_a_reader_never_changes_storage(spark, tmp_path, dataset_at):
    folder = tmp_path / "features.parquet"
    dataset_at(folder).save(_frame(spark, 4))
    folder.rename(tmp_path / f"features.parquet{PREVIOUS_SUFFIX}")  # a writer between its moves
    before = sorted(p.name for p in tmp_path.iterdir())
    dataset = dataset_at(folder)
    assert dataset.exists() and _values(dataset) == list(range(4))  # the previous version
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    dataset.save(_frame(spark, 2))  # the next writer repairs, under the lock
    assert (
        _values(dataset) == [0, 1]
        and not (tmp_path / f"features.parquet{PREVIOUS_SUFFIX}").exists()
    )


def _version_writer(fs, path: str, version: int, rounds: int) -> None:
    for _ in range(rounds):
        with writing_folder(fs, path) as staging:
            for name in ("a", "b", "c"):
                fs.pipe_file(f"{staging}/{name}", str(version).encode())
                time.sleep(0.01)


def _read_whole(fs, path: str) -> set[str]:
    def read(folder: str) -> set[str]:
        return {fs.cat_file(f"{folder}/{name}").decode() for name in ("a", "b", "c")}

    return read_one_version(fs, path, read) or set()


def _two_writers_and_a_reader(fs, path: str, rounds: int) -> list[set[str]]:
    with ThreadPoolExecutor(3) as pool:
        writers = [pool.submit(_version_writer, fs, path, v, rounds) for v in (1, 2)]
        seen = []
        while not all(w.done() for w in writers):
            seen.append(_read_whole(fs, path))
        for writer in writers:
            writer.result()
    seen.append(_read_whole(fs, path))
    return seen


def test_two_writers_and_a_reader_at_once_always_find_one_whole_version(tmp_path):
    fs = fsspec.filesystem("file")
    path = str(tmp_path / "model")
    seen = _two_writers_and_a_reader(fs, path, rounds=15)
    assert all(len(files) <= 1 for files in seen) and seen[-1] in ({"1"}, {"2"})
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["model"]  # no staging, no previous version, no lock file in the folder


def test_two_writers_on_blob_storage_take_turns_under_a_lease(azurite):
    from aerial_landuse.storage import BlobAccount, create_containers

    credentials = {"connection_string": azurite.connection_string}
    create_containers({BlobAccount("t", credentials): {"leased": ["x"]}})
    fs = fsspec.filesystem("abfs", skip_instance_cache=True, **credentials)
    seen = _two_writers_and_a_reader(fs, "leased/model", rounds=3)
    assert all(len(files) <= 1 for files in seen) and seen[-1] in ({"1"}, {"2"})
    assert not fs.glob(f"leased/model{STAGING_SUFFIX}*") and not fs.exists(
        f"leased/model{PREVIOUS_SUFFIX}"
    )


def test_a_writer_waits_for_the_lock_and_says_whose_it_is(tmp_path):
    fs = fsspec.filesystem("file")
    path = str(tmp_path / "out")
    with output_lock(fs, path), pytest.raises(OutputLockTimeout, match=r"aerial-landuse-locks"):
        with output_lock(fs, path, wait_s=0.5):
            pass
    with output_lock(fs, path, wait_s=0.5):  # released: the next writer takes it at once
        pass


def test_a_folder_copied_without_its_marker_is_not_trusted_on_blob(azurite):
    from aerial_landuse.storage import BlobAccount, create_containers

    credentials = {"connection_string": azurite.connection_string}
    create_containers({BlobAccount("t", credentials): {"marker": ["x"]}})
    fs = fsspec.filesystem("abfs", skip_instance_cache=True, **credentials)
    with writing_folder(fs, "marker/out") as staging:
        fs.pipe_file(f"{staging}/part", b"1")
    assert complete_version(fs, "marker/out") == "marker/out"
    fs.rm(f"marker/out/{SUCCESS_FILE}")  # as a kill mid-copy leaves it: the marker comes last
    assert complete_version(fs, "marker/out") is None


def test_a_writer_that_lost_the_storage_lets_its_lease_lapse_instead_of_retrying(azurite):
    """With the storage gone, releasing the lease would retry against an endpoint that does not
    answer (a minute and more of the client's back-off): it is left to lapse instead. After
    any other error it is released at once."""
    from aerial_landuse.storage import BlobAccount, create_containers

    credentials = {"connection_string": azurite.connection_string}
    create_containers({BlobAccount("t", credentials): {"lapsing": ["x"]}})
    fs = fsspec.filesystem("abfs", skip_instance_cache=True, **credentials)
    lost = OSError(f"Cannot connect to host 127.0.0.1:{azurite.port} ssl:default")
    with pytest.raises(OSError), output_lock(fs, "lapsing/out"):
        raise lost
    with pytest.raises(OutputLockTimeout), output_lock(fs, "lapsing/out", wait_s=0.5):
        pass  # still leased: it lapses within LEASE_S
    with pytest.raises(ValueError), output_lock(fs, "lapsing/other"):
        raise ValueError("a bad parameter")
    with output_lock(fs, "lapsing/other", wait_s=0.5):  # released at once
        pass
