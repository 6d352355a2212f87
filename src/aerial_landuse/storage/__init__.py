"""Storage: where a dataset's files live and how driver and executors reach them.

- ``location``: a URL's fsspec filesystem with its credentials (``Storage``, ``storage_location``),
  and the URL of a blob container (``container_url``, what catalog.yml's ``${place:...}`` gives).
- ``tile_listing``: a folder of image tiles, listed on the driver, read by path on executors.
- ``parquet_parts``: Parquet part files that executors write and read through fsspec.
- ``checks``: the pre-run checks of blob accounts and containers (reachable, credentials
  accepted, containers there, writable where the run writes), with errors that name the fix.
- ``atomic``: every output written whole, one writer at a time (a lock per output, a unique
  staging name, ``_SUCCESS`` last), readers that never change storage.
- ``stac``: the GeoTIFF/COG files of a region listed by a STAC ItemCollection or static catalog.
- ``wasbs``: ``wasbs://container@account.blob.core.windows.net`` for fsspec, registered through
  the ``fsspec.specs`` entry point of this package (pyproject.toml), so every process has it.

Image decoding lives in ``aerial_landuse.core.tiles.images``.
"""

from .checks import (
    BlobAccount,
    StorageError,
    blob_containers,
    check_containers,
    check_writable,
    create_containers,
    written_containers,
)
from .location import Storage, container_url, storage_location
from .tile_listing import TILE_EXTENSIONS, FolderScan, TileFolder

__all__ = [
    "BlobAccount",
    "TILE_EXTENSIONS",
    "Storage",
    "container_url",
    "StorageError",
    "FolderScan",
    "TileFolder",
    "blob_containers",
    "check_containers",
    "check_writable",
    "written_containers",
    "create_containers",
    "storage_location",
]
