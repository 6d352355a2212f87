"""Small Spark helpers shared by the pipelines."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


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


# ---- resumable writes: which job a half-written output belongs to ------------------------------
RESUME_KEY = "aerial_landuse.resume_key"  # Spark column metadata, read by FsspecSparkDataset


@dataclass(frozen=True)
class Progress:
    """What a stopped write of an output had finished: the job it belonged to (its resume key),
    the ids of its rows in the parts it completed, and how many parts."""

    key: str | None = None
    done: DataFrame | None = None
    parts: int = 0


def count_and_fingerprint(frame: DataFrame) -> tuple[int, str]:
    """Rows of ``frame`` and a hash of their content (order-independent), in one Spark job."""
    hashed = F.xxhash64(*frame.columns).cast("decimal(38,0)")
    row = frame.agg(F.count(F.lit(1)).alias("n"), F.sum(hashed).alias("h")).first()
    return int(row["n"]), f"{row['n']}:{row['h']}"


def with_resume_key(frame: DataFrame, key: str) -> DataFrame:
    """``frame`` tagged (in its first column's metadata) with the job it belongs to, so that a
    resumable dataset keeps the parts a stopped run of the same job finished."""
    first = frame.columns[0]
    metadata = {**frame.schema[first].metadata, RESUME_KEY: key}
    return frame.withMetadata(first, metadata)


def resume_key_of(frame: DataFrame) -> str | None:
    """The job ``frame`` belongs to (``with_resume_key``), or None."""
    return next((f.metadata[RESUME_KEY] for f in frame.schema if RESUME_KEY in f.metadata), None)


def stable_digest(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:20]
