"""A folder of image tiles on any storage: listed on the driver, read by executors by path."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd
from PIL import Image

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.tiles.images import TileLimits, too_many_bytes

from .location import Storage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

TILE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass(frozen=True)
class TileFolder:
    """A folder of tiles: labelled (one sub-folder per class) or flat (tiles to score).
    ``companions``: files directly in the folder that belong to its layout and are read by other
    datasets (a region's ``tile_summaries.csv``): neither tiles nor ignored."""

    root: str
    labelled: bool
    storage: Storage
    extensions: tuple[str, ...] = TILE_EXTENSIONS
    companions: tuple[str, ...] = ()
    spark: SparkSession | None = field(default=None, compare=False, repr=False)

    def image_loaders(self) -> TileImages:
        """Each tile's lazy image loader by relative path; nothing is read until one is called
        (for the few tiles a node looks at: the report's galleries, int8 calibration)."""
        return TileImages(self)

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

    def scan(
        self, follow_external_links: bool = False, limits: TileLimits | None = None
    ) -> FolderScan:
        """Every file below ``root`` accounted for, by the rules of docs/reliability.md: tiles
        (``reason`` None), files refused with a reason (quarantined: a broken symbolic link, a
        link that leaves the folder, a labelled file outside any class folder) and files ignored
        (hidden and OS files, other formats). Symbolic links are followed while their target
        stays inside ``root`` (anywhere with ``follow_external_links``); a link to a folder that
        holds ``root`` (a loop, ``-> /``) is never walked. With ``limits``, a file larger than
        ``limits.max_bytes`` (its size from the listing) is quarantined unopened. Raises a ValueError that names the
        folder when it is missing or holds no tile, or (labelled) has a class folder without
        tiles."""
        fs = self.storage.fs
        if not fs.exists(self.root):
            raise UserInputError(
                f"Tile folder {self.storage.uri(self.root)} does not exist. Point the catalog entry "
                "at your tiles, or write the demo set with `kedro run --pipelines=demo_data`."
            )
        root = fs._strip_protocol(self.root).rstrip("/")
        links = _ListingRules(os.path.realpath(root), follow_external_links, limits)
        tiles, ignored, class_dirs = [], [], set()
        for relpath, path, kind, reason in self._walk(root, root, set(), links):
            if kind == "directory":
                if "/" not in relpath and not _ignored_name(relpath):
                    class_dirs.add(relpath)
            elif kind == "ignored":
                if relpath not in self.companions:
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
        self, root: str, folder: str, seen: set[str], links: _ListingRules
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
                yield relpath, path, *self._file_kind(path, info.get("size"), links)
            elif info.get("islink"):
                yield from self._follow_link(path, relpath, seen, links)
            else:
                yield relpath, path, "ignored", f"not a regular file: {info['type']}"

    def _file_kind(
        self, path: str, size: int | None, links: _ListingRules
    ) -> tuple[str, str | None]:
        if self._is_tile(path):
            return "file", links.size_refusal(size)
        suffix = PurePosixPath(path).suffix or "(no extension)"
        return "ignored", f"not a tile format: {suffix} (tiles are {', '.join(self.extensions)})"

    def _follow_link(
        self, path: str, relpath: str, seen: set[str], links: _ListingRules
    ) -> Iterator[tuple[str, str, str, str | None]]:
        target = os.path.realpath(path)
        refusal = links.refusal(path, target)
        if refusal is not None:  # a tile is quarantined with the reason, anything else ignored
            kind = "file" if self._is_tile(path) and not os.path.isdir(target) else "ignored"
            yield relpath, path, kind, refusal
        elif os.path.isfile(target):
            yield relpath, path, *self._file_kind(path, os.path.getsize(target), links)
        elif target in seen or any(target.startswith(s + os.sep) for s in seen):
            yield relpath, path, "ignored", f"symbolic link to a folder already listed: {target}"
        else:
            yield relpath, path, "directory", None
            for inner_rel, _, kind, reason in self._walk(target, target, seen, links):
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


@dataclass(frozen=True)
class _ListingRules:
    """Which symbolic links a scan follows: those whose target stays inside the input folder
    (``inside``, resolved), or any with ``follow_external``; never one to a folder that holds
    the input folder (a loop, ``-> /``: the walk would never end or cover the disk). And which
    files are too large to be read whole (``limits``)."""

    inside: str
    follow_external: bool
    limits: TileLimits | None

    def size_refusal(self, size: int | None) -> str | None:
        """Why a tile of ``size`` bytes is too large to be read whole, or None."""
        if self.limits is None or size is None or size <= self.limits.max_bytes:
            return None
        return too_many_bytes(int(size), self.limits)

    def refusal(self, path: str, target: str) -> str | None:
        """Why the link at ``path`` is not followed, or None."""
        if not os.path.exists(target):
            return f"broken symbolic link to {os.readlink(path)}"
        if self.inside == target or self.inside.startswith(target.rstrip(os.sep) + os.sep):
            return f"symbolic link to a folder that holds the input folder (a loop): {target}"
        if self.follow_external or target.startswith(self.inside + os.sep):
            return None
        return (
            f"symbolic link leaves the input folder {self.inside}: -> {target} (copy the file "
            "in, or set ingest.follow_external_links: true to follow such links)"
        )


class TileImages(Mapping[str, Callable[[], Image.Image]]):
    """A folder's tiles as lazy Pillow images by relative path. Looking one up reads nothing
    and walks nothing (the report's galleries ask for the few tiles they show, through symbolic
    links too); iterating lists the folder (``scan``)."""

    def __init__(self, folder: TileFolder) -> None:
        self._folder = folder
        self._listed: list[str] | None = None

    def __getitem__(self, relpath: str) -> Callable[[], Image.Image]:
        if not relpath or relpath.startswith("/") or ".." in relpath.split("/"):
            raise KeyError(relpath)
        path = f"{self._folder.root}/{relpath}"
        return partial(_open_image, self._folder.storage, path)

    def __iter__(self) -> Iterator[str]:
        return iter(self._relpaths())

    def __len__(self) -> int:
        return len(self._relpaths())

    def _relpaths(self) -> list[str]:
        if self._listed is None:
            self._listed = (
                self._folder.list_tiles()["relpath"].tolist() if self._folder.exists() else []
            )
        return self._listed


def _open_image(storage: Storage, path: str) -> Image.Image:
    image = Image.open(io.BytesIO(storage.read_bytes(path)))
    image.load()
    return image


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
