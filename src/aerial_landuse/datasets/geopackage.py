"""``GeoPackageDataset`` and ``CogDataset``: files that GDAL writes to a path (a GeoPackage
layer, a Cloud-Optimized GeoTIFF), on any fsspec filesystem.

Written to a local temporary file and then copied to its place whole (storage/atomic.py: never
overwritten in place); GDAL cannot write these formats to an open fsspec file handle
(kedro-datasets' geopandas.GenericDataset hands pyogrio one).
"""

from __future__ import annotations

import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from aerial_landuse.core.tiles.cog import CogLayer, read_layer
from aerial_landuse.storage import storage_location
from aerial_landuse.storage.atomic import write_file


class _LocalCopyDataset(AbstractDataset[Any, Any]):
    """A file GDAL writes and reads by local path: saved through a local copy, loaded from one."""

    suffix = ""

    def __init__(
        self,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._storage, self._path = storage_location(filepath, credentials, fs_args)
        self.metadata = metadata

    def _write_local(self, data: Any, local: Path) -> None:
        raise NotImplementedError

    def _read_local(self, local: Path) -> Any:
        raise NotImplementedError

    def save(self, data: Any) -> None:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / f"file{self.suffix}"
            self._write_local(data, local)
            with local.open("rb") as written:
                write_file(self._storage.fs, self._path, partial(shutil.copyfileobj, written))

    def load(self) -> Any:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / f"file{self.suffix}"
            self._storage.fs.get_file(self._path, str(local))
            return self._read_local(local)

    def _exists(self) -> bool:
        return self._storage.fs.exists(self._path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._storage.uri(self._path)}


class GeoPackageDataset(_LocalCopyDataset):
    """A GeoDataFrame as one ``layer`` of a GeoPackage (written by geopandas with pyogrio)."""

    suffix = ".gpkg"

    def __init__(self, filepath: str, layer: str, **arguments: Any) -> None:
        super().__init__(filepath, **arguments)
        self._layer = layer

    def _write_local(self, data: Any, local: Path) -> None:
        data.to_file(local, driver="GPKG", layer=self._layer, engine="pyogrio")

    def _read_local(self, local: Path) -> Any:
        import geopandas as gpd

        return gpd.read_file(local, layer=self._layer, engine="pyogrio")

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "layer": self._layer}


class CogDataset(_LocalCopyDataset):
    """A ``CogLayer`` as a Cloud-Optimized GeoTIFF (rio-cogeo; core/tiles/cog.py); loaded back as
    one (a raster of one pixel per cell is small)."""

    suffix = ".tif"

    def _write_local(self, data: CogLayer, local: Path) -> None:
        data.write(local)

    def _read_local(self, local: Path) -> CogLayer:
        return read_layer(local)
