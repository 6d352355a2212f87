"""``GeoPackageDataset``: a GeoDataFrame as one layer of a GeoPackage, on any fsspec filesystem.

Written by geopandas (pyogrio) to a local temporary file and then copied to its place whole
(storage/atomic.py: never overwritten in place); kedro-datasets' geopandas.GenericDataset hands
pyogrio an open file handle, which pyogrio cannot write a GeoPackage to.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from aerial_landuse.storage import storage_location
from aerial_landuse.storage.atomic import write_file


class GeoPackageDataset(AbstractDataset[Any, Any]):
    def __init__(
        self,
        filepath: str,
        layer: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._storage, self._path = storage_location(filepath, credentials, fs_args)
        self._layer = layer
        self.metadata = metadata

    def save(self, data: Any) -> None:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "layer.gpkg"
            data.to_file(local, driver="GPKG", layer=self._layer, engine="pyogrio")
            with local.open("rb") as written:
                write_file(self._storage.fs, self._path, partial(shutil.copyfileobj, written))

    def load(self) -> Any:
        import geopandas as gpd

        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "layer.gpkg"
            self._storage.fs.get_file(self._path, str(local))
            return gpd.read_file(local, layer=self._layer, engine="pyogrio")

    def _exists(self) -> bool:
        return self._storage.fs.exists(self._path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._storage.uri(self._path), "layer": self._layer}
