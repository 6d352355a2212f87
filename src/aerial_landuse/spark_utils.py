"""Small Spark helpers shared by the pipelines."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, SparkSession


def get_spark() -> SparkSession:
    """The session the SparkHooks built from conf/<env>/spark.yml."""
    return SparkSession.builder.getOrCreate()


def partitions_for(rows: int, rows_per_partition: int) -> int:
    """About ``rows_per_partition`` rows each, in whole waves over the task slots, so that no
    slot sits idle in the last wave (at most 10,000 partitions)."""
    slots = max(get_spark().sparkContext.defaultParallelism, 1)
    wanted = max(math.ceil(rows / max(rows_per_partition, 1)), 1)
    return min(math.ceil(wanted / slots) * slots, 10_000)


def count_by(df: DataFrame, *columns: str) -> dict[str, int]:
    """Row counts per value of ``columns`` joined with '/', e.g. {'train/Forest': 40}."""
    rows = df.groupBy(*columns).count().collect()
    return {"/".join(str(r[c]) for c in columns): int(r["count"]) for r in rows}
