"""``AtomicSparkDataset``: kedro-datasets' SparkDataset whose saves replace the old output only
when the new one is complete (storage/atomic.py), and which trusts only complete outputs."""

from __future__ import annotations

import fsspec
from kedro.io import DatasetError
from kedro_datasets.spark import SparkDataset
from pyspark.sql import DataFrame

from aerial_landuse.storage.atomic import fresh_staging, is_complete, publish


class AtomicSparkDataset(SparkDataset):
    """A Spark DataFrame on a filesystem path (local disk, or any prefix fsspec knows), written
    to ``<path>.__writing__`` and moved in place when Spark has committed it (``_SUCCESS``).

    A killed or failed save leaves the previous output intact; ``exists`` is False for a folder
    without ``_SUCCESS`` (so ``--only-missing-outputs`` writes it again instead of failing to
    read it), and ``load`` refuses one with the command to run.
    """

    @property
    def _target(self) -> tuple[fsspec.AbstractFileSystem, str]:
        protocol = self._fs_prefix.removesuffix("://") or "file"
        return fsspec.filesystem(protocol), str(self._filepath)

    def save(self, data: DataFrame) -> None:
        fs, path = self._target
        staging = fresh_staging(fs, path)
        data.write.save(self._fs_prefix + staging, self._file_format, **self._save_args)
        if not fs.exists(f"{staging}/_SUCCESS"):
            raise DatasetError(
                f"Spark committed no {staging}/_SUCCESS: the output is not moved in."
            )
        publish(fs, staging, path)

    def load(self) -> DataFrame:
        fs, path = self._target
        if not is_complete(fs, path) and fs.exists(path):  # is_complete recovers first
            raise DatasetError(
                f"{self._fs_prefix}{path} is incomplete (no _SUCCESS: a run stopped while "
                "writing it): run the node that writes it again, e.g. "
                "`kedro run --only-missing-outputs`."
            )
        return super().load()

    def _exists(self) -> bool:
        fs, path = self._target
        return is_complete(fs, path)
