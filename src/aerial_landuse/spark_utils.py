"""Small Spark helpers shared by the pipelines."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, SparkSession


def get_spark() -> SparkSession:
    """The session the SparkHooks built from conf/<env>/spark.yml."""
    return SparkSession.builder.getOrCreate()


def partitions_for(rows: int, rows_per_partition: int) -> int:
    """Enough partitions to keep every task slot busy, each holding about ``rows_per_partition``."""
    slots = get_spark().sparkContext.defaultParallelism
    return max(slots, min(math.ceil(rows / max(rows_per_partition, 1)), 10_000))


def count_by(df: DataFrame, *columns: str) -> dict[str, int]:
    """Row counts per value of ``columns`` joined with '/', e.g. {'train/Forest': 40}."""
    rows = df.groupBy(*columns).count().collect()
    return {"/".join(str(r[c]) for c in columns): int(r["count"]) for r in rows}
