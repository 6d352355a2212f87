import json
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError
from pyspark.ml.linalg import Vectors, VectorUDT

from aerial_landuse.core.spark_frames import ArrowMap, ResumableRows
from aerial_landuse.datasets import FsspecSparkDataset, SparkModelDataset, StagedRowsDataset
from aerial_landuse.datasets.fsspec_spark import _written_by
from aerial_landuse.storage.atomic import staging_folders
from tests.core.test_spark_frames import longs_schema
from tests.pipelines.train.test_nodes import LABELS, clustered_features, params, train


def _frame(spark, rows=50):
    rng = np.random.default_rng(0)
    data = [
        (
            f"id{i}",
            f"abfs://train/x/{i}.png",
            None if i % 7 == 0 else 1.5 * i,
            Vectors.dense(rng.normal(size=4).astype(np.float32)),
        )
        for i in range(rows)
    ]
    return spark.createDataFrame(data, ["id", "path", "llcrnrlat", "features"]).repartition(3)


def _roundtrip(dataset, frame):
    dataset.save(frame)
    loaded = dataset.load()
    assert isinstance(loaded.schema["features"].dataType, VectorUDT)
    assert loaded.schema.simpleString() == frame.schema.simpleString()
    before = {r["id"]: r for r in frame.collect()}
    after = {r["id"]: r for r in loaded.collect()}
    assert before.keys() == after.keys()
    for key, row in before.items():
        assert after[key]["llcrnrlat"] == row["llcrnrlat"] and after[key]["path"] == row["path"]
        np.testing.assert_allclose(
            after[key]["features"].toArray(), row["features"].toArray(), rtol=1e-6
        )


def test_round_trip_on_azurite_written_and_read_by_executors(spark, azurite):
    from aerial_landuse.storage import BlobAccount, create_containers

    credentials = {"connection_string": azurite.connection_string}
    create_containers({BlobAccount("t", credentials): {"features": ["x"]}})
    dataset = FsspecSparkDataset(
        filepath="abfs://features/test/train.parquet", credentials=credentials
    )
    assert not dataset.exists()
    _roundtrip(dataset, _frame(spark))
    assert dataset.exists()
    _roundtrip(dataset, _frame(spark, 20))  # overwrite, not append
    assert dataset.load().count() == 20


def test_round_trip_on_local_disk_and_missing_data_is_named(spark, tmp_path):
    _roundtrip(FsspecSparkDataset(filepath=str(tmp_path / "f.parquet")), _frame(spark))
    with pytest.raises(DatasetError, match="no complete dataset"):
        FsspecSparkDataset(filepath=str(tmp_path / "missing.parquet")).load()


def test_trained_model_round_trips_through_blob_storage(spark, azurite):
    from aerial_landuse.storage import BlobAccount, create_containers

    credentials = {"connection_string": azurite.connection_string}
    create_containers({BlobAccount("t", credentials): {"trainedmodels": ["x"]}})
    model = train(clustered_features(spark), params("random_forest"))
    dataset = SparkModelDataset(
        path="abfs://trainedmodels/test_random_forest", credentials=credentials
    )
    dataset.save(model)
    dataset.save(model)  # overwrite
    loaded = dataset.load()
    assert loaded.labels == LABELS and loaded.info["classifier"] == "random_forest"
    features = clustered_features(spark, 4)
    assert [r["pred_label"] for r in loaded.predict(features).orderBy("id").collect()] == [
        r["pred_label"] for r in model.predict(features).orderBy("id").collect()
    ]
    assert azurite.key not in repr(dataset)


def test_a_model_changed_outside_the_project_is_refused(spark, tmp_path):
    dataset = SparkModelDataset(path=str(tmp_path / "m"))
    dataset.save(train(clustered_features(spark), params("logistic_regression")))
    stored = next((tmp_path / "m" / "pipeline" / "stages").glob("0_*/data/*.parquet"))
    stored.write_bytes(stored.read_bytes()[:-1] + b"x")  # not what the record's SHA-256 says
    with pytest.raises(DatasetError, match="SHA-256"):
        dataset.load()


def test_a_record_naming_another_class_is_refused_before_spark_reads_it(spark, tmp_path):
    dataset = SparkModelDataset(path=str(tmp_path / "m"))
    dataset.save(train(clustered_features(spark), params("logistic_regression")))
    record_file = tmp_path / "m" / "model.json"
    record = json.loads(record_file.read_text())
    record["classifier"]["class"] = "PipelineModel"  # would load whatever the folder names
    record_file.write_text(json.dumps(record))
    with pytest.raises(DatasetError, match="names a classifier this project does not load"):
        dataset.load()


def test_a_pipeline_naming_another_class_is_refused_even_with_matching_sums(spark, tmp_path):
    """Who can rewrite model.json can also rewrite its sums: the classes are checked anyway."""
    dataset = SparkModelDataset(path=str(tmp_path / "m"))
    dataset.save(train(clustered_features(spark), params("logistic_regression")))
    metadata = next((tmp_path / "m" / "pipeline" / "stages").glob("1_*/metadata/part-00000"))
    metadata.write_text(
        metadata.read_text().replace("org.apache.spark.ml.feature.IndexToString", "org.evil.X")
    )
    record_file = tmp_path / "m" / "model.json"
    record = json.loads(record_file.read_text())
    record["files"] = dataset._files(str(tmp_path / "m"))
    record_file.write_text(json.dumps(record))
    with pytest.raises(DatasetError, match=r"names Spark ML classes .*org\.evil\.X"):
        dataset.load()


def _failing_from_partition(frame, first_failing: int):
    """``frame`` whose tasks from partition ``first_failing`` on fail (a run that stops)."""
    from pyspark import TaskContext

    def body(batches):
        if TaskContext.get().partitionId() >= first_failing:
            raise RuntimeError("planted failure")
        yield from batches

    return frame.mapInPandas(body, frame.schema)


def _stop_a_save_after_two_partitions(spark, path: str, key: str):
    """A resumable save of 60 rows in 6 partitions that failed from partition 2 on, its tasks
    ended (as when a stopped run's executors are gone before the next run starts)."""
    frame = _frame(spark, 60).repartition(6)
    with pytest.raises(Exception, match="planted failure"):
        FsspecSparkDataset(filepath=path).save(
            ResumableRows(_failing_from_partition(frame, 2), key)
        )
    _wait_until_no_task_runs(spark)
    return frame


def _wait_until_no_task_runs(spark) -> None:
    """Spark kills the other tasks of a failed job asynchronously: wait until they have ended."""
    tracker = spark.sparkContext._jsc.sc().statusTracker()
    deadline = time.monotonic() + 600  # generous: a loaded machine
    while any(e.numRunningTasks() for e in tracker.getExecutorInfos()):
        assert time.monotonic() < deadline, "tasks of the failed job still run after 10 minutes"
        time.sleep(0.2)


def test_a_stopped_resumable_save_keeps_its_finished_parts_for_the_same_job(spark, tmp_path):
    path = str(tmp_path / "f.parquet")
    frame = _stop_a_save_after_two_partitions(spark, path, "job-1")
    assert not FsspecSparkDataset(filepath=path).exists()
    progress = StagedRowsDataset(filepath=path).load()
    assert progress.key == "job-1" and progress.parts >= 1  # partition 2 ran after 0 or 1 ended
    done = {r["id"] for r in progress.done.collect()}
    assert 0 < len(done) < 60

    rest = frame.join(progress.done, "id", "left_anti").select(*frame.columns)
    dataset = FsspecSparkDataset(filepath=path)
    dataset.save(ResumableRows(rest, "job-1", progress.part_names))
    loaded = dataset.load()
    assert sorted(r["id"] for r in loaded.collect()) == sorted(f"id{i}" for i in range(60))
    assert all(not field.metadata for field in loaded.schema)  # the job is not in the schema
    assert StagedRowsDataset(filepath=path).load().key is None  # nothing staged any more


def test_a_part_finished_after_the_node_looked_is_not_kept_twice(spark, tmp_path):
    """A task of the stopped save may still finish its part after the job failed (Spark kills
    tasks asynchronously); the resumed frame holds those rows, so that part must go."""
    path = str(tmp_path / "f.parquet")
    frame = _stop_a_save_after_two_partitions(spark, path, "job-1")
    progress = StagedRowsDataset(filepath=path).load()
    rest = frame.join(progress.done, "id", "left_anti").select(*frame.columns)
    (staging,) = map(Path, staging_folders(FsspecSparkDataset(filepath=path)._storage.fs, path))
    part = pq.read_table(next(staging.glob("part-*.parquet")))
    ids = [r["id"] for r in rest.select("id").limit(part.num_rows).collect()]
    late = part.slice(0, len(ids)).set_column(0, "id", pa.array(ids))  # rows ``rest`` holds too
    pq.write_table(late, staging / "part-late-00009.parquet")

    dataset = FsspecSparkDataset(filepath=path)
    dataset.save(ResumableRows(rest, "job-1", progress.part_names))
    ids = [r["id"] for r in dataset.load().collect()]
    assert sorted(ids) == sorted(f"id{i}" for i in range(60))  # once each


def test_parts_staged_by_another_job_are_never_kept(spark, tmp_path):
    path = str(tmp_path / "f.parquet")
    _stop_a_save_after_two_partitions(spark, path, "old")
    dataset = FsspecSparkDataset(filepath=path)
    dataset.save(ResumableRows(_frame(spark, 10), "new"))
    assert sorted(r["id"] for r in dataset.load().collect()) == sorted(f"id{i}" for i in range(10))
    assert staging_folders(dataset._storage.fs, path) == []  # the old job's staging is gone


def test_rows_left_out_for_parts_that_are_gone_are_refused(spark, tmp_path):
    """Another run of the output removed the stopped run's staging: the rows the node left out
    would be lost, so the save stops and says how to go on."""
    path = str(tmp_path / "f.parquet")
    frame = _stop_a_save_after_two_partitions(spark, path, "job-1")
    progress = StagedRowsDataset(filepath=path).load()
    FsspecSparkDataset(filepath=path).save(_frame(spark, 3))  # another writer of the same output
    rest = frame.join(progress.done, "id", "left_anti").select(*frame.columns)
    with pytest.raises(DatasetError, match="only-missing-outputs"):
        FsspecSparkDataset(filepath=path).save(ResumableRows(rest, "job-1", progress.part_names))
    assert FsspecSparkDataset(filepath=path).load().count() == 3  # the whole other version


def test_a_frame_without_rows_keeps_its_columns_for_every_reader(spark, tmp_path):
    import pandas as pd

    path = tmp_path / "score_predictions.parquet"
    empty = spark.createDataFrame([], "id string, label string, confidence double")
    FsspecSparkDataset(filepath=str(path)).save(empty)
    loaded = FsspecSparkDataset(filepath=str(path)).load()
    assert loaded.count() == 0 and loaded.columns == ["id", "label", "confidence"]
    read_by_pandas = pd.read_parquet(path)  # the report reads a region's scores this way
    assert list(read_by_pandas.columns) == ["id", "label", "confidence"] and read_by_pandas.empty


def _squares(batches):
    """mapInArrow body: each id with its square."""
    for batch in batches:
        ids = batch.column("id").to_numpy()
        yield pa.RecordBatch.from_pydict({"id": ids, "square": ids * ids})


def test_mapped_rows_are_written_in_the_maps_own_pass(spark, tmp_path):
    source = spark.range(30).repartition(3)
    mapped = ArrowMap(source, _squares, longs_schema("id long, square long"))
    dataset = FsspecSparkDataset(filepath=str(tmp_path / "f.parquet"))
    dataset.save(ResumableRows.mapped(mapped, "job-1"))
    assert sorted((r.id, r.square) for r in dataset.load().collect()) == [
        (i, i * i) for i in range(30)
    ]

    def writer_pid(batches):  # as write_part, one row per task: (whose rows, who wrote them)
        mapped_pids = {pid for batch in batches for pid in batch.column("pid").to_pylist()}
        yield pa.RecordBatch.from_pydict({"path": [str(mapped_pids)], "rows": [os.getpid()]})

    with_pid = ArrowMap(
        source,
        lambda batches: (
            b.append_column("pid", pa.array([os.getpid()] * b.num_rows)) for b in batches
        ),
        longs_schema("id long, pid long"),
    )
    rows = ResumableRows.mapped(with_pid, "job-2")
    for task in _written_by(rows.frame, writer_pid, rows, vectors=[]).collect():
        assert task.path == str({task.rows})  # the writer ran in the worker that mapped them
