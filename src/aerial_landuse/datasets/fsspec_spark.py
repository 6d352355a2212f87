"""``FsspecSparkDataset``: a Spark DataFrame as Parquet files on any fsspec filesystem, replaced
only when the new files are complete (storage/atomic.py).

Spark reaches object storage only through Hadoop connectors (hadoop-azure for ``abfs://``), and
hadoop-azure's ABFS driver needs the ADLS Gen2 endpoint that Azurite does not serve. Here the
executors themselves write and read the Parquet files through fsspec (adlfs for Azure), so the
same catalog works against Azurite and a real storage account, with nothing staged on the driver.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pyarrow as pa
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._utils.spark_utils import get_spark
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.linalg import VectorUDT
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from aerial_landuse.storage import storage_location
from aerial_landuse.storage.atomic import SUCCESS_FILE, fresh_staging, is_complete, publish
from aerial_landuse.storage.parquet_parts import read_parts, write_part

SCHEMA_FILE = "_spark_schema.json"


class FsspecSparkDataset(AbstractDataset[DataFrame, DataFrame]):
    """A folder ``<filepath>/`` of ``part-*.parquet`` files plus the Spark schema.

    Vector columns (Spark ML features) are stored as float arrays and restored on load.
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
        staging = fresh_staging(fs, self._path)
        fs.makedirs(staging, exist_ok=True)
        written = data.mapInArrow(
            partial(write_part, storage=self._storage, folder=staging),
            "path string, rows long",
        ).collect()
        parts = sorted(r["path"].rsplit("/", 1)[-1] for r in written if r["path"])
        record = {
            "schema": json.loads(data.schema.json()),
            "vectors": vectors,
            "rows": sum(r["rows"] for r in written),
            "parts": parts,  # the committed tasks' files (a retried task's leftovers are not)
        }
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
        if "parts" in record:
            files = [f"{self._path}/{name}" for name in record["parts"]]
        else:  # written by an earlier version
            files = sorted(p for p in fs.glob(f"{self._path}/part-*.parquet"))
        spark = get_spark()
        arrow_schema = _arrow_schema(schema)
        listing = spark.createDataFrame([(f,) for f in files], "path string").repartition(
            max(len(files), 1)
        )
        frame = listing.mapInArrow(
            partial(read_parts, storage=self._storage, schema=arrow_schema), schema
        )
        for name in record["vectors"]:
            frame = frame.withColumn(name, array_to_vector(name))
        return frame

    def _exists(self) -> bool:
        return is_complete(self._storage.fs, self._path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._uri}


def _arrow_schema(schema: T.StructType) -> pa.Schema:
    """The Arrow schema Spark expects back for ``schema`` (via pyspark's own mapping)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)
