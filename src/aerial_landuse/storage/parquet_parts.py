"""Parquet part files that Spark executors write and read themselves, through fsspec.

mapInArrow bodies for ``FsspecSparkDataset``: each task writes its partition as one
``part-<uuid>.parquet`` file straight to storage, or streams the files it is given.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from .location import Storage


def write_part(
    batches: Iterator[pa.RecordBatch], storage: Storage, folder: str
) -> Iterator[pa.RecordBatch]:
    """Executor side: one Parquet file per partition, straight to storage."""
    writer, rows, path = None, 0, f"{folder}/part-{uuid.uuid4().hex}.parquet"
    handle = None
    try:
        for batch in batches:
            if writer is None:
                handle = storage.fs.open(path, "wb")
                writer = pq.ParquetWriter(handle, batch.schema, compression="zstd")
            writer.write_batch(batch)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
        if handle is not None:
            handle.close()
    yield pa.RecordBatch.from_pydict({"path": [path if rows else None], "rows": [rows]})


def read_parts(
    batches: Iterator[pa.RecordBatch], storage: Storage, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Executor side: stream the record batches of the files named in ``path``."""
    for batch in batches:
        for path in batch.column("path").to_pylist():
            with storage.fs.open(path, "rb") as handle:
                for piece in pq.ParquetFile(handle).iter_batches():
                    yield from (
                        pa.Table.from_batches([piece])
                        .select(schema.names)
                        .cast(schema)
                        .to_batches()
                    )
