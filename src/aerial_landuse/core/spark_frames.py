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
RESUME_PARTS = "aerial_landuse.resume_parts"  # the staged parts whose rows the frame leaves out


@dataclass(frozen=True)
class Progress:
    """What a stopped write of an output had finished: the job it belonged to (its resume key),
    the ids of its rows in the parts it completed, and those parts' file names."""

    key: str | None = None
    done: DataFrame | None = None
    part_names: tuple[str, ...] = ()

    @property
    def parts(self) -> int:
        return len(self.part_names)


@dataclass(frozen=True)
class ResumeTag:
    """The job a frame belongs to and the staged parts of a stopped run of it that it leaves out
    (only those are kept: a part that a dying task finished later holds rows the frame has too)."""

    key: str
    kept_parts: tuple[str, ...] = ()


def count_and_fingerprint(frame: DataFrame) -> tuple[int, str]:
    """Rows of ``frame`` and a hash of their content (order-independent), in one Spark job."""
    hashed = F.xxhash64(*frame.columns).cast("decimal(38,0)")
    row = frame.agg(F.count(F.lit(1)).alias("n"), F.sum(hashed).alias("h")).first()
    return int(row["n"]), f"{row['n']}:{row['h']}"


def with_resume_key(frame: DataFrame, key: str, kept_parts: tuple[str, ...] = ()) -> DataFrame:
    """``frame`` tagged (in its first column's metadata) with the job it belongs to and the staged
    parts of a stopped run of that job whose rows it leaves out, so that a resumable dataset keeps
    exactly those parts."""
    first = frame.columns[0]
    metadata = {**frame.schema[first].metadata, RESUME_KEY: key, RESUME_PARTS: list(kept_parts)}
    return frame.withMetadata(first, metadata)


def resume_tag_of(frame: DataFrame) -> ResumeTag | None:
    """The job ``frame`` belongs to and the parts it keeps (``with_resume_key``), or None."""
    for field in frame.schema:
        if RESUME_KEY in field.metadata:
            parts = field.metadata.get(RESUME_PARTS) or []
            return ResumeTag(field.metadata[RESUME_KEY], tuple(parts))
    return None


def resume_key_of(frame: DataFrame) -> str | None:
    """The job ``frame`` belongs to (``with_resume_key``), or None."""
    tag = resume_tag_of(frame)
    return tag.key if tag else None


def stable_digest(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:20]
