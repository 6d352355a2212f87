import os

import pyarrow as pa
from pyspark.sql import types as T

from aerial_landuse.core.spark_frames import ArrowMap, partitions_for


def test_partitions_come_in_whole_waves_over_the_task_slots(spark):
    slots = spark.sparkContext.defaultParallelism
    assert slots == 2
    frame = spark.range(1)
    assert partitions_for(frame, 2000, 512) == 4
    assert partitions_for(frame, 1500, 512) == 4  # 3 would leave one slot idle in the last wave
    assert partitions_for(frame, 10, 512) == 2  # never fewer than the slots
    assert partitions_for(frame, 10**9, 1) == 10_000


def _with_pid(column: str):
    """mapInArrow body: each row gains ``column``, the process id of the worker that saw it."""

    def body(batches):
        for batch in batches:
            pids = pa.array([os.getpid()] * batch.num_rows, pa.int64())
            yield batch.append_column(column, pids)

    return body


def test_a_step_after_an_arrow_map_runs_in_the_maps_own_python_worker(spark):
    source = spark.range(40).repartition(2)
    mapped = ArrowMap(source, _with_pid("mapped_by"), longs_schema(MAPPED))
    rows = mapped.then(_with_pid("then_by"), f"{MAPPED}, then_by long").collect()
    assert sorted(r.id for r in rows) == list(range(40))
    assert all(r.mapped_by == r.then_by for r in rows)
    # what the map spares: Spark runs a chain of mapInArrow in a worker per step
    chained = mapped.frame().mapInArrow(_with_pid("then_by"), f"{MAPPED}, then_by long")
    assert all(r.mapped_by != r.then_by for r in chained.collect())


MAPPED = "id long, mapped_by long"


def longs_schema(ddl: str) -> T.StructType:
    """The schema of ``"a long, b long"``."""
    names = [column.split()[0] for column in ddl.split(",")]
    return T.StructType([T.StructField(name, T.LongType()) for name in names])
