"""A folder of image tiles on any storage: listed on the driver, read by executors by path."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd

from aerial_landuse.core.errors import UserInputError

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
        """The tiles below ``root`` that can be used: columns path, relpath, label (None when
        unlabelled); files that are ignored or refused by a rule are left out (``scan``)."""
        listing = self.scan().tiles
        return listing.loc[listing["reason"].isna(), ["path", "relpath", "label"]]

    def scan(self) -> FolderScan:
        """Every file below ``root`` accounted for, by the rules of docs/reliability.md: tiles
        (``reason`` None), files refused with a reason (quarantined: a broken symbolic link, a
        labelled file outside any class folder) and files ignored (hidden and OS files, other
        formats). Symbolic links are followed. Raises a ValueError that names the folder when it
        is missing or holds no tile, or (labelled) has a class folder without tiles."""
        fs = self.storage.fs
        if not fs.exists(self.root):
            raise UserInputError(
                f"Tile folder {self.storage.uri(self.root)} does not exist. Point the catalog entry "
                "at your tiles, or write the demo set with `kedro run --pipelines=demo_data`."
            )
        root = fs._strip_protocol(self.root).rstrip("/")
        tiles, ignored, class_dirs = [], [], set()
        for relpath, path, kind, reason in self._walk(root, root, set()):
            if kind == "directory":
                if "/" not in relpath and not _ignored_name(relpath):
                    class_dirs.add(relpath)
            elif kind == "ignored":
                ignored.append({"path": self.storage.uri(path), "reason": reason})
            else:
                tiles.append(self._tile_row(relpath, path, reason))
        listing = pd.DataFrame(tiles, columns=["path", "relpath", "label", "reason"])
        listing = listing.sort_values("relpath", ignore_index=True)
        ignored_files = pd.DataFrame(ignored, columns=["path", "reason"]).sort_values("path")
        if listing["reason"].isna().sum() == 0:
            raise UserInputError(
                f"No tiles ({', '.join(self.extensions)}) found under {self.storage.uri(self.root)}"
                f" ({len(listing)} refused, {len(ignored_files)} ignored). "
                + (
                    "Expected one sub-folder per class, e.g. Forest/tile_0001.png."
                    if self.labelled
                    else ""
                )
            )
        if self.labelled:
            self._check_class_folders(root, class_dirs, listing)
        return FolderScan(listing, ignored_files.reset_index(drop=True))

    def _tile_row(self, relpath: str, path: str, reason: str | None) -> dict[str, Any]:
        """A listed file; labelled: its class is the first folder below the root."""
        nested = "/" in relpath
        if self.labelled and not nested and reason is None:
            reason = (
                "not in a class folder: labelled tiles go in <folder>/<Class>/..., the class "
                "is the first folder below the root"
            )
        label = relpath.split("/", 1)[0] if self.labelled and nested else None
        return {
            "path": self.storage.uri(path),
            "relpath": relpath,
            "label": label,
            "reason": reason,
        }

    def _walk(
        self, root: str, folder: str, seen: set[str]
    ) -> Iterator[tuple[str, str, str, str | None]]:
        """(relpath, path, kind, reason) of every entry below ``folder``; kind is ``file``,
        ``directory`` or ``ignored``. One listing call for the whole tree (fast on blob storage);
        symbolic links (local disks only) are followed, each real folder once."""
        fs = self.storage.fs
        seen = seen | {os.path.realpath(folder)} if self.storage.protocol == "file" else seen
        for found, info in sorted(fs.find(folder, withdirs=True, detail=True).items()):
            path = found.rstrip("/")
            relpath = (path[len(root) :] if path.startswith(root) else path).lstrip("/")
            inner = path[len(folder) :].lstrip("/")
            if not inner:
                continue
            hidden = next((p for p in inner.split("/") if _ignored_name(p)), None)
            if hidden is not None:
                if info["type"] != "directory":
                    yield relpath, path, "ignored", f"hidden or OS file: {hidden}"
                continue
            if info["type"] == "directory":
                yield relpath, path, "directory", None
            elif info["type"] == "file":
                yield relpath, path, *self._file_kind(path)
            elif info.get("islink"):
                yield from self._follow_link(root, path, relpath, seen)
            else:
                yield relpath, path, "ignored", f"not a regular file: {info['type']}"

    def _file_kind(self, path: str) -> tuple[str, str | None]:
        if self._is_tile(path):
            return "file", None
        suffix = PurePosixPath(path).suffix or "(no extension)"
        return "ignored", f"not a tile format: {suffix} (tiles are {', '.join(self.extensions)})"

    def _follow_link(
        self, root: str, path: str, relpath: str, seen: set[str]
    ) -> Iterator[tuple[str, str, str, str | None]]:
        target = os.path.realpath(path)
        if not os.path.exists(target):
            reason = f"broken symbolic link to {os.readlink(path)}"
            kind = "file" if self._is_tile(path) else "ignored"
            yield relpath, path, kind, reason
        elif os.path.isfile(target):
            yield relpath, path, *self._file_kind(path)
        elif target in seen or any(target.startswith(s + os.sep) for s in seen):
            yield relpath, path, "ignored", f"symbolic link to a folder already listed: {target}"
        else:
            yield relpath, path, "directory", None
            for inner_rel, _, kind, reason in self._walk(target, target, seen):
                yield f"{relpath}/{inner_rel}", f"{path}/{inner_rel}", kind, reason

    def _is_tile(self, path: str) -> bool:
        return path.lower().endswith(self.extensions)

    def _check_class_folders(self, root: str, class_dirs: set[str], listing: pd.DataFrame) -> None:
        empty = sorted(class_dirs - set(listing.loc[listing["reason"].isna(), "label"].dropna()))
        if empty:
            where = ", ".join(f"{self.storage.uri(root)}/{name}" for name in empty)
            raise UserInputError(
                f"Class folder(s) without tiles: {where}. Add tiles to them or remove them "
                "(each class folder must hold at least one tile)."
            )


IGNORED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini", "$RECYCLE.BIN"})


def _ignored_name(name: str) -> bool:
    """Hidden files and folders (``.DS_Store``, ``._tile.png``, ``.ipynb_checkpoints``) and
    the folders and files operating systems add (``__MACOSX``, ``Thumbs.db``)."""
    return name.startswith(".") or name in IGNORED_NAMES


@dataclass(frozen=True)
class FolderScan:
    """Every file of a tile folder: ``tiles`` (path, relpath, label, reason: None for a tile,
    else why it is quarantined) and ``ignored`` (path, reason)."""

    tiles: pd.DataFrame
    ignored: pd.DataFrame
