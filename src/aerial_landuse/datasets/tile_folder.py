"""``TileFolderDataset``: a folder of image tiles on local disk or object storage."""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError
from pyspark.sql import SparkSession

from aerial_landuse.storage import TILE_EXTENSIONS, Storage, TileFolder, storage_location


class TileFolderDataset(AbstractDataset[None, TileFolder]):
    """Loads a ``TileFolder`` handle; listing happens on the driver, reading on executors.

    Example catalog entry::

        train_tiles:
          type: aerial_landuse.datasets.TileFolderDataset
          path: data/01_raw/train        # or abfs://train
          labelled: true                 # label = parent folder name
          credentials: azure_storage     # only for object storage
          companions: [tile_summaries.csv]  # files of the layout, read by other datasets
    """

    def __init__(
        self,
        path: str | None,
        labelled: bool = True,
        extensions: list[str] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        companions: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        # path: null means "no such folder" (e.g. no region to score): it loads as a folder
        # that does not exist, and the node that lists it says what is skipped
        self._storage, self._root = (
            storage_location(path, credentials, fs_args) if path else (Storage(), "")
        )
        self._labelled = labelled
        self._extensions = tuple(e.lower() for e in (extensions or TILE_EXTENSIONS))
        self._companions = tuple(companions or ())
        self.metadata = metadata

    def load(self) -> TileFolder:
        return TileFolder(
            self._root,
            self._labelled,
            self._storage,
            self._extensions,
            self._companions,
            SparkSession.getActiveSession(),  # the hook's session; None in tools that only list
        )

    def save(self, data: None) -> None:
        raise DatasetError(
            f"{self._storage.uri(self._root)} is a read-only tile folder: tiles are written by "
            "the demo_data pipeline or copied in by you."
        )

    def _exists(self) -> bool:
        return bool(self._root) and self._storage.fs.exists(self._root)

    def _describe(self) -> dict[str, Any]:
        return {"path": self._storage.uri(self._root), "labelled": self._labelled}
