"""A folder of image tiles on any storage: listed on the driver, read by executors by path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .location import Storage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

TILE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass(frozen=True)
class TileFolder:
    """A folder of tiles: labelled (one sub-folder per class) or flat (tiles to score)."""

    root: str
    labelled: bool
    storage: Storage
    extensions: tuple[str, ...] = TILE_EXTENSIONS
    spark: SparkSession | None = field(default=None, compare=False, repr=False)
    # relpath -> lazy loader of the tile as a Pillow image (the catalog's PartitionedDataset)
    images: Callable[[], dict[str, Callable[[], Any]]] | None = field(
        default=None, compare=False, repr=False
    )

    def image_loaders(self) -> dict[str, Callable[[], Any]]:
        """Each tile's lazy image loader by relative path; nothing is read until one is called
        (for the few tiles a node looks at: the report's galleries, int8 calibration)."""
        return self.images() if self.images is not None and self.exists() else {}

    def spark_frame(self, listing: pd.DataFrame, schema: StructType) -> DataFrame:
        """``listing`` (paths, no pixels) as a Spark DataFrame in the session that reads this folder."""
        if self.spark is None:
            raise RuntimeError(f"{self.storage.uri(self.root)} was loaded without a SparkSession.")
        return self.spark.createDataFrame(listing, schema=schema)

    def exists(self) -> bool:
        """False also for a folder configured with no path (``path: null``)."""
        return bool(self.root) and self.storage.fs.exists(self.root)

    def list_tiles(self) -> pd.DataFrame:
        """Every tile below ``root``: columns path, relpath, label (None when unlabelled).

        Raises a ValueError that names the folder when it is missing, empty, or (labelled)
        has a class folder without tiles.
        """
        fs = self.storage.fs
        if not fs.exists(self.root):
            raise ValueError(
                f"Tile folder {self.storage.uri(self.root)} does not exist. Point the catalog entry "
                "at your tiles, or write the demo set with `kedro run --pipelines=demo_data`."
            )
        entries = fs.find(self.root, withdirs=True, detail=True)
        root = fs._strip_protocol(self.root).rstrip("/")
        files = sorted(
            p for p, info in entries.items() if info["type"] == "file" and self._is_tile(p)
        )
        rows = [self._row(root, p) for p in files]
        listing = pd.DataFrame(rows, columns=["path", "relpath", "label"])
        if listing.empty:
            raise ValueError(
                f"No tiles ({', '.join(self.extensions)}) found under {self.storage.uri(self.root)}. "
                + (
                    "Expected one sub-folder per class, e.g. Forest/tile_0001.png."
                    if self.labelled
                    else ""
                )
            )
        if self.labelled:
            self._check_class_folders(root, entries, listing)
        return listing

    def _is_tile(self, path: str) -> bool:
        return path.lower().endswith(self.extensions)

    def _row(self, root: str, path: str) -> dict[str, Any]:
        relpath = path[len(root) :].lstrip("/")
        parts = relpath.split("/")
        label = parts[-2] if self.labelled and len(parts) > 1 else None
        return {"path": self.storage.uri(path), "relpath": relpath, "label": label}

    def _check_class_folders(self, root: str, entries: dict, listing: pd.DataFrame) -> None:
        class_dirs = {
            p[len(root) :].strip("/")
            for p, info in entries.items()
            if info["type"] == "directory"
            and p.rstrip("/") != root
            and "/" not in p[len(root) :].strip("/")
        }
        empty = sorted(class_dirs - set(listing["label"].dropna()))
        if empty:
            where = ", ".join(f"{self.storage.uri(root)}/{name}" for name in empty)
            raise ValueError(
                f"Class folder(s) without tiles: {where}. Add tiles to them or remove them "
                "(each class folder must hold at least one tile)."
            )
