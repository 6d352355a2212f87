"""``GeoPackageDataset``, ``CogDataset`` and ``CogFolderDataset``: files that GDAL writes to a
path (a GeoPackage layer, Cloud-Optimized GeoTIFFs), on any fsspec filesystem.

Written to a local temporary file and then copied to its place whole (storage/atomic.py: never
overwritten in place); GDAL cannot write these formats to an open fsspec file handle
(kedro-datasets' geopandas.GenericDataset hands pyogrio one).
"""

from __future__ import annotations

import json
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
    """A GeoDataFrame as one ``layer`` of a GeoPackage (written and read by geopandas with
    pyogrio; no ``layer``: the file's first, for a file the user gives). kedro-datasets'
    GenericDataset is not used: importing it sets geopandas' engine to fiona for the process."""

    suffix = ".gpkg"

    def __init__(self, filepath: str, layer: str | None = None, **arguments: Any) -> None:
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


class CogFolderDataset(AbstractDataset[dict[str, CogLayer], dict[str, CogLayer]]):
    """Named ``CogLayer``s as ``<name>.tif`` COGs in a folder, with ``rasters.json`` naming them,
    written last: a region of tiles has no raster, and its folder says so (``--only-missing-
    outputs`` sees the node done). A COG of an earlier run that this one does not write is
    removed, so the folder holds what its list names."""

    manifest = "rasters.json"

    def __init__(
        self,
        path: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._url, self._credentials, self._fs_args = path.rstrip("/"), credentials, fs_args
        self._storage, self._path = storage_location(path, credentials, fs_args)
        self.metadata = metadata

    def _cog(self, name: str) -> CogDataset:
        return CogDataset(f"{self._url}/{name}.tif", self._credentials, self._fs_args)

    def save(self, data: dict[str, CogLayer]) -> None:
        fs = self._storage.fs
        for name, layer in data.items():
            self._cog(name).save(layer)
        for stale in set(self._names()) - set(data):
            fs.rm(f"{self._path}/{stale}.tif")
        listing = json.dumps(sorted(data)).encode()
        write_file(fs, f"{self._path}/{self.manifest}", lambda handle: handle.write(listing))

    def _names(self) -> list[str]:
        path = f"{self._path}/{self.manifest}"
        fs = self._storage.fs
        return json.loads(fs.cat_file(path)) if fs.exists(path) else []

    def load(self) -> dict[str, CogLayer]:
        return {name: self._cog(name).load() for name in self._names()}

    def _exists(self) -> bool:
        return self._storage.fs.exists(f"{self._path}/{self.manifest}")

    def _describe(self) -> dict[str, Any]:
        return {"path": self._storage.uri(self._path)}
