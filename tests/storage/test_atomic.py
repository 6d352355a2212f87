"""Outputs are replaced only by complete ones: a failed save leaves the previous output intact,
a half-written folder is not trusted, and a run stopped mid-switch is repaired."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError
from pyspark.sql import functions as F
from pyspark.sql import types as T

from aerial_landuse.datasets import FsspecSparkDataset
from aerial_landuse.storage.atomic import PREVIOUS_SUFFIX, STAGING_SUFFIX


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
    assert not (tmp_path / f"features.parquet{STAGING_SUFFIX}").exists()


def test_a_half_written_folder_is_not_trusted(spark, tmp_path, dataset_at):
    folder = tmp_path / "features.parquet"
    dataset_at(folder).save(_frame(spark, 3))
    (folder / "_SUCCESS").unlink()  # as a copy killed mid-way leaves it
    dataset = dataset_at(folder)
    assert not dataset.exists()  # so --only-missing-outputs writes it again
    with pytest.raises(DatasetError, match="(incomplete|no complete dataset)"):
        dataset.load()


def test_a_run_stopped_between_the_two_moves_is_repaired(spark, tmp_path, dataset_at):
    folder = tmp_path / "features.parquet"
    dataset_at(folder).save(_frame(spark, 4))
    folder.rename(tmp_path / f"features.parquet{PREVIOUS_SUFFIX}")
    dataset = dataset_at(folder)
    assert dataset.exists() and _values(dataset) == list(range(4))


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
