"""Small Spark helpers shared by the pipelines."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame


def partitions_for(frame: DataFrame, rows: int, rows_per_partition: int) -> int:
    """About ``rows_per_partition`` rows each, in whole waves over the task slots of ``frame``'s
    session, so that no slot sits idle in the last wave (at most 10,000 partitions)."""
    slots = max(frame.sparkSession.sparkContext.defaultParallelism, 1)
    wanted = max(math.ceil(rows / max(rows_per_partition, 1)), 1)
    return min(math.ceil(wanted / slots) * slots, 10_000)


def count_by(df: DataFrame, *columns: str) -> dict[str, int]:
    """Row counts per value of ``columns`` joined with '/', e.g. {'train/Forest': 40}."""
    rows = df.groupBy(*columns).count().collect()
    return {"/".join(str(r[c]) for c in columns): int(r["count"]) for r in rows}
