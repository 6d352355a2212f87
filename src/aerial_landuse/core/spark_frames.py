"""Small Spark helpers shared by the pipelines."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T


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


ArrowBody = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


@dataclass(frozen=True)
class ArrowMap:
    """``source.mapInArrow(body, schema)`` kept in its parts, so that a writer can run its own
    Arrow step in the same pass (``then``). Spark runs each ``mapInArrow`` of a chain in a
    Python worker of its own, the rows crossing from Python to the JVM and back between them:
    chained, a task holds two workers (two imports of numpy, pyarrow, ...) and moves its rows
    twice."""

    source: DataFrame
    body: ArrowBody
    schema: T.StructType

    def frame(self) -> DataFrame:
        """The mapped rows as a DataFrame."""
        return self.source.mapInArrow(self.body, self.schema)

    def then(self, step: ArrowBody, schema: T.StructType | str) -> DataFrame:
        """``self.frame().mapInArrow(step, schema)``, with ``step`` in the same Python worker."""
        return self.source.mapInArrow(partial(_chained, first=self.body, second=step), schema)


def _chained(
    batches: Iterator[pa.RecordBatch], first: ArrowBody, second: ArrowBody
) -> Iterator[pa.RecordBatch]:
    return second(first(batches))


@dataclass(frozen=True)
class ResumableRows:
    """What a resumable node returns: the rows still to write, the job they belong to (``key``)
    and the staged parts of a stopped run of that job whose rows ``frame`` leaves out (only those
    are kept: a part that a dying task finished later holds rows the frame has too). The
    dataset that writes it (``FsspecSparkDataset``) keeps those parts and adds the rows; when
    the rows are an ``ArrowMap`` (``mapped``), it writes them in the map's own pass."""

    frame: DataFrame
    key: str
    kept_parts: tuple[str, ...] = ()
    arrow_map: ArrowMap | None = None  # how ``frame`` is made, when it is one mapInArrow

    @classmethod
    def mapped(
        cls, arrow_map: ArrowMap, key: str, kept_parts: tuple[str, ...] = ()
    ) -> ResumableRows:
        """The rows of ``arrow_map``, resumable as ``key``."""
        return cls(arrow_map.frame(), key, tuple(kept_parts), arrow_map)


def count_and_fingerprint(frame: DataFrame) -> tuple[int, str]:
    """Rows of ``frame`` and a hash of their content (order-independent), in one Spark job."""
    hashed = F.xxhash64(*frame.columns).cast("decimal(38,0)")
    row = frame.agg(F.count(F.lit(1)).alias("n"), F.sum(hashed).alias("h")).first()
    return int(row["n"]), f"{row['n']}:{row['h']}"


def stable_digest(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:20]
