"""``FsspecSparkDataset``: a Spark DataFrame as Parquet files on any fsspec filesystem, replaced
only when the new files are complete, one writer at a time (storage/atomic.py).

Spark reaches object storage only through Hadoop connectors (hadoop-azure for ``abfs://``), and
hadoop-azure's ABFS driver needs the ADLS Gen2 endpoint that Azurite does not serve. Here the
executors themselves write and read the Parquet files through fsspec (adlfs for Azure), so the
same catalog works against Azurite and a real storage account, with nothing staged on the driver.

Locally it holds the features: each Spark task commits its own part file, so a stopped
featurize can be resumed part by part (``StagedRowsDataset``), which Spark's job-level commit
cannot offer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from functools import partial
from typing import Any

import pyarrow as pa
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._utils.spark_utils import get_spark
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.linalg import VectorUDT
from pyspark.sql import DataFrame
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from aerial_landuse.core.spark_frames import Progress, ResumableRows
from aerial_landuse.storage import Storage, storage_location
from aerial_landuse.storage.atomic import (
    SUCCESS_FILE,
    complete_version,
    is_complete,
    staging_folders,
    writing_folder,
)
from aerial_landuse.storage.parquet_parts import (
    read_parts,
    rows_in,
    whole_parts,
    write_empty_part,
    write_part,
)

logger = logging.getLogger(__name__)

SCHEMA_FILE = "_spark_schema.json"
RESUME_FILE = "_resume.json"  # the job a staged, resumable output belongs to


class FsspecSparkDataset(AbstractDataset[DataFrame, DataFrame]):
    """A folder ``<filepath>/`` of ``part-*.parquet`` files plus the Spark schema.

    Vector columns (Spark ML features) are stored as float arrays and restored on load. Saving
    ``ResumableRows`` (a frame with its job's key) is resumable: the parts that a stopped save of
    the same job completed, and that the rows leave out, are kept, and only the new rows are
    added (``StagedRowsDataset`` tells the node which rows and parts those are).
    """

    def __init__(
        self,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._storage, self._path = storage_location(filepath, credentials, fs_args)
        self.metadata = metadata

    @property
    def _uri(self) -> str:
        return self._storage.uri(self._path)

    def save(self, data: DataFrame | ResumableRows) -> None:
        resumable = data if isinstance(data, ResumableRows) else None
        frame = resumable.frame if resumable else data
        vectors = [f.name for f in frame.schema.fields if isinstance(f.dataType, VectorUDT)]
        for name in vectors:
            frame = frame.withColumn(name, vector_to_array(name, dtype="float32"))
        fs = self._storage.fs
        with writing_folder(fs, self._path, reuse=_resumes(fs, resumable)) as staging:
            kept = _start_staging(fs, self._path, staging, resumable)
            run = uuid.uuid4().hex[:12]
            writer = partial(write_part, storage=self._storage, folder=staging, run=run)
            written = _written_by(frame, writer, resumable, vectors).collect()
            new = {r["path"].rsplit("/", 1)[-1]: r["rows"] for r in written if r["path"]}
            if not new and not kept:  # no row at all: the columns still reach pandas readers
                schema = to_arrow_schema(frame.schema)
                new[write_empty_part(self._storage, staging, run, schema)] = 0
            record = {
                "schema": json.loads(frame.schema.json()),
                "vectors": vectors,
                "rows": sum(new.values()) + sum(rows_in(fs, f"{staging}/{n}") for n in kept),
                "parts": sorted({*kept, *new}),  # committed tasks' files (not a retry's leftovers)
            }
            _remove_all_but(fs, staging, record["parts"])  # e.g. a failed earlier attempt's part
            fs.pipe_file(f"{staging}/{SCHEMA_FILE}", json.dumps(record).encode())

    def load(self) -> DataFrame:
        folder = complete_version(self._storage.fs, self._path)
        if folder is None:
            raise DatasetError(
                f"{self._uri} holds no complete dataset (no {SUCCESS_FILE}): run the node that writes it."
            )
        record = json.loads(self._storage.fs.cat_file(f"{folder}/{SCHEMA_FILE}"))
        schema = T.StructType.fromJson(record["schema"])
        files = [f"{folder}/{name}" for name in record["parts"]]
        frame = parts_frame(self._storage, files, schema)
        for name in record["vectors"]:
            frame = frame.withColumn(name, array_to_vector(name))
        return frame

    def _exists(self) -> bool:
        return is_complete(self._storage.fs, self._path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._uri}


class StagedRowsDataset(AbstractDataset[None, Progress]):
    """What a stopped resumable save of ``filepath`` (an ``FsspecSparkDataset``) finished: its
    resume key and the ``columns`` (ids) of the rows in its completed parts, read by executors.
    Read-only; nothing staged loads as an empty ``Progress``."""

    def __init__(
        self,
        filepath: str,
        columns: list[str] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._storage, self._path = storage_location(filepath, credentials, fs_args)
        self._columns = columns or ["id"]
        self.metadata = metadata

    def load(self) -> Progress:
        fs = self._storage.fs
        staging = _most_advanced_staging(fs, self._path)
        key = _recorded_key(fs, staging) if staging else None
        parts = whole_parts(fs, staging) if staging else []
        if key is None or not parts:
            return Progress(key=key)
        schema = T.StructType([T.StructField(c, T.StringType()) for c in self._columns])
        files = [f"{staging}/{name}" for name in parts]
        done = parts_frame(self._storage, files, schema)
        return Progress(key=key, done=done, part_names=tuple(parts))

    def save(self, data: None) -> None:
        raise DatasetError("StagedRowsDataset is read-only: the output's own dataset writes it.")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._storage.uri(self._path), "columns": self._columns}


def _written_by(
    frame: DataFrame, writer: Any, rows: ResumableRows | None, vectors: list[str]
) -> DataFrame:
    """The tasks' written parts (path, rows): the writer runs in the rows' own Python pass
    where they come from one ``mapInArrow`` (``ArrowMap``), else in a pass of its own."""
    if rows is not None and rows.arrow_map is not None and not vectors:
        return rows.arrow_map.then(writer, WRITTEN_PARTS)
    return frame.mapInArrow(writer, WRITTEN_PARTS)


WRITTEN_PARTS = "path string, rows long"  # what write_part yields, a row per task


def parts_frame(storage: Storage, files: list[str], schema: T.StructType) -> DataFrame:
    """The rows of Parquet ``files`` as a Spark DataFrame: Spark's own reader on a local disk
    (column pruning), executors reading through fsspec elsewhere."""
    spark = get_spark()
    if storage.protocol == "file" and files:
        return spark.read.schema(schema).parquet(*files)
    listing = spark.createDataFrame([(f,) for f in files], "path string").repartition(
        max(len(files), 1)
    )
    return listing.mapInArrow(
        partial(read_parts, storage=storage, schema=_arrow_schema(schema)), schema
    )


def _recorded_key(fs: Any, staging: str) -> str | None:
    marker = f"{staging}/{RESUME_FILE}"
    return json.loads(fs.cat_file(marker))["key"] if fs.exists(marker) else None


def _most_advanced_staging(fs: Any, path: str) -> str | None:
    """The staging of a stopped resumable save of ``path`` with the most finished parts."""
    resumable = [s for s in staging_folders(fs, path) if _recorded_key(fs, s) is not None]
    return max(resumable, key=lambda s: len(whole_parts(fs, s)), default=None)


def _resumes(fs: Any, rows: ResumableRows | None) -> Any:
    """Whether a staging folder is the stopped run of ``rows``' job, with every part they keep."""
    if rows is None:
        return None

    def same_job(staging: str) -> bool:
        staged = set(whole_parts(fs, staging))
        return _recorded_key(fs, staging) == rows.key and staged >= set(rows.kept_parts)

    return same_job


def _start_staging(fs: Any, path: str, staging: str, rows: ResumableRows | None) -> list[str]:
    """The parts kept in ``staging`` (a stopped run's, taken over), after removing the rest, such
    as a part that a task of the stopped save finished after the node looked. A fresh staging of a
    resumable save records its job."""
    if rows is None:
        return []
    if _recorded_key(fs, staging) != rows.key:
        if rows.kept_parts:  # the node left those rows out: they must still be there
            raise DatasetError(
                f"The parts that a stopped run had staged for {path} are gone (another run of the "
                "same output removed them): run `kedro run --only-missing-outputs` again."
            )
        fs.pipe_file(f"{staging}/{RESUME_FILE}", json.dumps({"key": rows.key}).encode())
        return []
    staged = whole_parts(fs, staging)
    kept = [name for name in staged if name in rows.kept_parts]
    _remove_all_but(fs, staging, [*kept, RESUME_FILE])
    logger.info("Resuming %s: keeping the %d parts a stopped run finished", path, len(kept))
    if len(kept) < len(staged):
        logger.info("Discarded %d staged parts the resumed rows include", len(staged) - len(kept))
    return kept


def _remove_all_but(fs: Any, folder: str, names: list[str]) -> None:
    """Remove what ``folder`` holds besides ``names`` (temporaries, parts of failed attempts)."""
    for entry in fs.ls(folder, detail=False):
        if entry.rstrip("/").rsplit("/", 1)[-1] not in names:
            with contextlib.suppress(FileNotFoundError):  # a dying task renamed its temporary
                fs.rm(entry, recursive=True)


def _arrow_schema(schema: T.StructType) -> pa.Schema:
    """The Arrow schema Spark expects back for ``schema`` (via pyspark's own mapping)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)
