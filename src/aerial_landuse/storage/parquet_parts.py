"""Parquet part files that Spark executors write and read themselves, through fsspec.

mapInArrow bodies for ``FsspecSparkDataset``: each task writes its partition as one
``part-<run>-<partition>.parquet`` file straight to storage, or streams the files it is given.
A part file appears only when complete (a local file is written under a temporary name and
renamed; a blob is committed by the storage service when its upload ends), so the parts in a
folder are always whole, and a retried task replaces its own part instead of adding a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .location import Storage

PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
_TEMPORARY_PREFIX = "_tmp-"


def part_name(run: str, partition: int) -> str:
    """The file of ``partition`` of the write ``run`` (the same for every attempt of a task)."""
    return f"{PART_PREFIX}{run}-{partition:05d}{PART_SUFFIX}"


def _partition_id() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


ROW_GROUP_BYTES = 32 * 2**20  # a task's rows are buffered into row groups of about this size


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth a Parquet dictionary: all but floating point ones (and lists of them).
    Features are 1,280 distinct floats a tile: a dictionary made their parts 45 % larger and
    about 7x slower to write and to read back."""
    return [field.name for field in schema if not _floating(field.type)]


def _floating(kind: pa.DataType) -> bool:
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _floating(kind.value_type)
    return pa.types.is_floating(kind)


def write_part(
    batches: Iterator[pa.RecordBatch], storage: Storage, folder: str, run: str
) -> Iterator[pa.RecordBatch]:
    """Executor side: one Parquet file per partition, straight to storage, visible when whole.
    The task's small batches (the network's 8-16 tiles) are gathered into row groups of about
    ``ROW_GROUP_BYTES``: one row group per batch would leave readers dozens per part."""
    path = f"{folder}/{part_name(run, _partition_id())}"
    local = storage.protocol == "file"
    target = f"{folder}/{_TEMPORARY_PREFIX}{uuid.uuid4().hex}{PART_SUFFIX}" if local else path
    writer, rows, handle = None, 0, None
    pending: list[pa.RecordBatch] = []
    pending_bytes = 0
    try:
        for batch in batches:
            if writer is None:  # locally never recreates a staging folder its save gave up
                handle = open(target, "wb") if local else storage.fs.open(target, "wb")  # noqa: SIM115
                writer = pq.ParquetWriter(
                    handle,
                    batch.schema,
                    compression="zstd",
                    use_dictionary=dictionary_columns(batch.schema),
                )
            pending.append(batch)
            rows, pending_bytes = rows + batch.num_rows, pending_bytes + batch.nbytes
            if pending_bytes >= ROW_GROUP_BYTES:
                writer.write_table(pa.Table.from_batches(pending))
                pending, pending_bytes = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending))
    finally:
        if writer is not None:
            writer.close()
        if handle is not None:
            handle.close()
    if rows and local:
        storage.fs.mv(target, path)  # a rename: atomic, replaces a failed attempt's part
    yield pa.RecordBatch.from_pydict({"path": [path if rows else None], "rows": [rows]})


def write_empty_part(storage: Storage, folder: str, run: str, schema: pa.Schema) -> str:
    """Driver side, for a frame with no rows: one Parquet file with the columns and no row, so
    that readers of the folder (pandas, pyarrow) still see its schema. Returns its name."""
    name = part_name(run, 0)
    with storage.fs.open(f"{folder}/{name}", "wb") as handle:
        pq.write_table(schema.empty_table(), handle, compression="zstd")
    return name


def whole_parts(fs: Any, folder: str) -> list[str]:
    """The part files in ``folder`` (complete by construction), by name."""
    if not fs.exists(folder):
        return []
    names = (p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False))
    return sorted(n for n in names if n.startswith(PART_PREFIX) and n.endswith(PART_SUFFIX))


def rows_in(fs: Any, path: str) -> int:
    """Rows of one Parquet file, from its footer."""
    with fs.open(path, "rb") as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def read_parts(
    batches: Iterator[pa.RecordBatch], storage: Storage, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Executor side: stream the record batches of the files named in ``path``."""
    for batch in batches:
        for path in batch.column("path").to_pylist():
            with storage.fs.open(path, "rb") as handle:
                for piece in pq.ParquetFile(handle).iter_batches(columns=schema.names):
                    yield from (
                        pa.Table.from_batches([piece])
                        .select(schema.names)
                        .cast(schema)
                        .to_batches()
                    )
