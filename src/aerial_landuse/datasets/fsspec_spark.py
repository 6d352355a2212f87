"""``FsspecSparkDataset``: a Spark DataFrame as Parquet files on any fsspec filesystem, replaced
only when the new files are complete (storage/atomic.py).

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

from aerial_landuse.core.spark_frames import (
    RESUME_KEY,
    RESUME_PARTS,
    Progress,
    ResumeTag,
    resume_tag_of,
)
from aerial_landuse.storage import Storage, storage_location
from aerial_landuse.storage.atomic import (
    STAGING_SUFFIX,
    SUCCESS_FILE,
    fresh_staging,
    is_complete,
    publish,
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

    Vector columns (Spark ML features) are stored as float arrays and restored on load. A
    DataFrame tagged with a resume key (``spark_utils.with_resume_key``) is written resumably:
    the parts that a stopped save of the same job completed, and that the frame says it leaves
    out, are kept, and only the new rows are added (``StagedRowsDataset`` tells the node which
    rows and parts those are).
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

    def save(self, data: DataFrame) -> None:
        vectors = [f.name for f in data.schema.fields if isinstance(f.dataType, VectorUDT)]
        for name in vectors:
            data = data.withColumn(name, vector_to_array(name, dtype="float32"))
        fs = self._storage.fs
        staging, kept = _staging_for(fs, self._path, resume_tag_of(data))
        run = uuid.uuid4().hex[:12]
        written = data.mapInArrow(
            partial(write_part, storage=self._storage, folder=staging, run=run),
            "path string, rows long",
        ).collect()
        new = {r["path"].rsplit("/", 1)[-1]: r["rows"] for r in written if r["path"]}
        if not new and not kept:  # no row at all: the columns still reach pandas readers
            new[write_empty_part(self._storage, staging, run, to_arrow_schema(data.schema))] = 0
        record = {
            "schema": _schema_without_resume_key(data.schema),
            "vectors": vectors,
            "rows": sum(new.values()) + sum(rows_in(fs, f"{staging}/{n}") for n in kept),
            "parts": sorted({*kept, *new}),  # committed tasks' files (not a retry's leftovers)
        }
        _remove_all_but(fs, staging, record["parts"])  # e.g. a failed earlier attempt's part
        fs.pipe_file(f"{staging}/{SCHEMA_FILE}", json.dumps(record).encode())
        fs.pipe_file(f"{staging}/{SUCCESS_FILE}", b"")
        publish(fs, staging, self._path)

    def load(self) -> DataFrame:
        fs = self._storage.fs
        if not is_complete(fs, self._path):
            raise DatasetError(
                f"{self._uri} holds no complete dataset (no {SUCCESS_FILE}): run the node that writes it."
            )
        record = json.loads(fs.cat_file(f"{self._path}/{SCHEMA_FILE}"))
        schema = T.StructType.fromJson(record["schema"])
        files = [f"{self._path}/{name}" for name in record["parts"]]
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
        self._storage, path = storage_location(filepath, credentials, fs_args)
        self._staging = path + STAGING_SUFFIX
        self._columns = columns or ["id"]
        self.metadata = metadata

    def load(self) -> Progress:
        fs = self._storage.fs
        key, parts = _recorded_key(fs, self._staging), whole_parts(fs, self._staging)
        if key is None or not parts:
            return Progress(key=key)
        schema = T.StructType([T.StructField(c, T.StringType()) for c in self._columns])
        files = [f"{self._staging}/{name}" for name in parts]
        done = parts_frame(self._storage, files, schema)
        return Progress(key=key, done=done, part_names=tuple(parts))

    def save(self, data: None) -> None:
        raise DatasetError("StagedRowsDataset is read-only: the output's own dataset writes it.")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"staging": self._storage.uri(self._staging), "columns": self._columns}


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


def _staging_for(fs: Any, path: str, tag: ResumeTag | None) -> tuple[str, list[str]]:
    """(staging folder, parts kept in it): the parts a stopped save of the same job completed and
    the frame leaves out (``tag.kept_parts``) are kept; anything else staged is removed, such as
    a part that a task of the stopped save finished after the node looked."""
    staging = path.rstrip("/") + STAGING_SUFFIX
    if tag is not None and _recorded_key(fs, staging) == tag.key:
        staged = whole_parts(fs, staging)
        kept = [name for name in staged if name in tag.kept_parts]
        _remove_all_but(fs, staging, [*kept, RESUME_FILE])
        logger.info("Resuming %s: keeping the %d parts a stopped run finished", path, len(kept))
        if len(kept) < len(staged):
            logger.info(
                "Discarded %d staged parts the resumed rows include", len(staged) - len(kept)
            )
        return staging, kept
    staging = fresh_staging(fs, path)
    fs.makedirs(staging, exist_ok=True)
    if tag is not None:
        fs.pipe_file(f"{staging}/{RESUME_FILE}", json.dumps({"key": tag.key}).encode())
    return staging, []


def _remove_all_but(fs: Any, folder: str, names: list[str]) -> None:
    """Remove what ``folder`` holds besides ``names`` (temporaries, parts of failed attempts)."""
    for entry in fs.ls(folder, detail=False):
        if entry.rstrip("/").rsplit("/", 1)[-1] not in names:
            with contextlib.suppress(FileNotFoundError):  # a dying task renamed its temporary
                fs.rm(entry, recursive=True)


def _schema_without_resume_key(schema: T.StructType) -> dict[str, Any]:
    record = json.loads(schema.json())
    for field in record["fields"]:
        field["metadata"].pop(RESUME_KEY, None)
        field["metadata"].pop(RESUME_PARTS, None)
    return record


def _arrow_schema(schema: T.StructType) -> pa.Schema:
    """The Arrow schema Spark expects back for ``schema`` (via pyspark's own mapping)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)
