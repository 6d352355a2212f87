"""Copy the local tile set into the blob containers of a Kedro environment (the seed's AzCopy step).

    python -m aerial_landuse.tools.upload --env azurite [--region middlesexma2010]
        [--params train_folder=naipdemo2016,land_cover_folder=nlcddemo2016]

Creates every container the environment's catalog names, then copies ``train_tiles``,
``test_tiles``, ``score_tiles``, ``land_cover`` and ``tile_summaries`` from the base (local)
catalog to the environment's, with a progress bar (a folder of rasters, imagery or land cover,
whole; a tile folder's tiles). Idempotent: a blob that already exists with the same size
is skipped.
"""

from __future__ import annotations

import argparse
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from kedro.framework.project import settings
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog
from tqdm import tqdm

from aerial_landuse.storage import (
    StorageError,
    TileFolder,
    blob_containers,
    create_containers,
    storage_location,
)
from aerial_landuse.tools import project_root

logger = logging.getLogger(__name__)

TILE_SETS = ("train_tiles", "test_tiles", "score_tiles", "land_cover")
FOLDER_PARAMS = ("region", "train_folder", "test_folder", "land_cover_folder")  # catalog.yml's
SUMMARIES = "tile_summaries"


@dataclass(frozen=True)
class Transfer:
    source: str
    destination: str
    size: int


def load_config(
    project: Path, env: str | None, folders: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(catalog, credentials) config of ``env`` (None: base + local), with the runtime
    parameters ``folders`` (region, train_folder...; none: globals.yml's)."""
    loader = settings.CONFIG_LOADER_CLASS(
        str(project / settings.CONF_SOURCE),
        env=env,
        runtime_params=folders or None,
        **settings.CONFIG_LOADER_ARGS,
    )
    return dict(loader["catalog"]), dict(loader["credentials"])


def _filepath(entry: dict[str, Any]) -> str:
    """A catalog entry's file path, also inside a wrapper (OptionalDataset's ``dataset``)."""
    return entry["filepath"] if "filepath" in entry else entry["dataset"]["filepath"]


def summaries_transfer(
    src_conf: dict[str, Any], dst_conf: dict[str, Any], dst_creds: dict[str, Any]
) -> list[Transfer]:
    """tile_summaries.csv from the local catalog's path to the environment's (if there is one)."""
    entry = dst_conf[SUMMARIES]
    credentials = dst_creds.get(entry["credentials"]) if entry.get("credentials") else None
    _, destination = storage_location(_filepath(entry), credentials)
    source_storage, source = storage_location(_filepath(src_conf[SUMMARIES]))
    if not source_storage.fs.exists(source):
        logger.info("Skipping %s: %s does not exist", SUMMARIES, source)
        return []
    return [Transfer(source, destination, int(source_storage.fs.size(source)))]


def plan(src_catalog: DataCatalog, dst_catalog: DataCatalog) -> list[Transfer]:
    """Every tile file to copy, source absolute path to destination path."""
    transfers = []
    for name in TILE_SETS:
        source, destination = src_catalog.load(name), dst_catalog.load(name)
        if not src_catalog.exists(name):  # e.g. no test folder when test_fraction splits train
            logger.info("Skipping %s: %s does not exist", name, source.storage.uri(source.root))
            continue
        files = _files_of(source, whole=name == "land_cover")
        sizes = source.storage.fs.sizes([path for _, path in files])
        for (relpath, path), size in zip(files, sizes, strict=True):
            transfers.append(Transfer(path, f"{destination.root.rstrip('/')}/{relpath}", int(size)))
    return transfers


def _files_of(folder: TileFolder, whole: bool) -> list[tuple[str, str]]:
    """(relative path, path) of what to copy: a tile folder's tiles, or every file but hidden
    ones of a ``whole`` folder (land cover) or of a labelled folder of rasters (its files at
    the top level, where labelled tiles sit in class folders: imagery, a STAC JSON)."""
    fs, root = folder.storage.fs, folder.root.rstrip("/")
    rasters = folder.labelled and any(fs.isfile(path) for path in fs.ls(root, detail=False))
    if not (whole or rasters):
        listing = folder.list_tiles()
        return list(listing[["relpath", "path"]].itertuples(index=False, name=None))
    paths = [str(path) for path in fs.find(root)]
    relpaths = [str(PurePosixPath(path).relative_to(root)) for path in paths]
    return [
        (relpath, path)
        for relpath, path in zip(relpaths, paths, strict=True)
        if not any(part.startswith(".") for part in PurePosixPath(relpath).parts)
    ]


def existing_sizes(fs: fsspec.AbstractFileSystem, transfers: list[Transfer]) -> dict[str, int]:
    roots = {t.destination.split("/", 1)[0] for t in transfers}
    sizes: dict[str, int] = {}
    for root in roots:
        if fs.exists(root):
            sizes.update(
                {
                    path: int(info.get("size") or 0)
                    for path, info in fs.find(root, detail=True).items()
                }
            )
    return sizes


def copy(
    fs: fsspec.AbstractFileSystem, transfers: list[Transfer], workers: int = 8
) -> tuple[int, int]:
    """Copy what is missing; returns (copied, skipped)."""
    present = existing_sizes(fs, transfers)
    todo = [t for t in transfers if present.get(t.destination) != t.size]
    with tqdm(
        total=sum(t.size for t in todo), unit="B", unit_scale=True, desc="upload", disable=not todo
    ) as bar:

        def one(transfer: Transfer) -> None:
            fs.put_file(transfer.source, transfer.destination)
            bar.update(transfer.size)

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, todo))
    return len(todo), len(transfers) - len(todo)


def upload(project: Path, env: str, folders: dict[str, str] | None = None) -> tuple[int, int]:
    src_conf, src_creds = load_config(project, None, folders)
    dst_conf, dst_creds = load_config(project, env, folders)
    created = create_containers(blob_containers(dst_conf, dst_creds))
    if created:
        logger.info("Created containers: %s", ", ".join(created))
    src_catalog = DataCatalog.from_config({k: src_conf[k] for k in TILE_SETS}, src_creds)
    dst_catalog = DataCatalog.from_config({k: dst_conf[k] for k in TILE_SETS}, dst_creds)
    transfers = [
        *plan(src_catalog, dst_catalog),
        *summaries_transfer(src_conf, dst_conf, dst_creds),
    ]
    return copy(dst_catalog.load("train_tiles").storage.fs, transfers)


def _folder_params(text: str) -> dict[str, str]:
    """``name=value,...`` of FOLDER_PARAMS, as `kedro run --params` takes them."""
    pairs = dict(pair.split("=", 1) for pair in text.split(",") if "=" in pair)
    unknown = sorted(set(pairs) - set(FOLDER_PARAMS)) + [
        p for p in text.split(",") if p and "=" not in p
    ]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown)}: give name=value pairs of {', '.join(FOLDER_PARAMS)}"
        )
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--env",
        required=True,
        help="Kedro environment whose catalog names the containers, e.g. azurite",
    )
    parser.add_argument(
        "--region",
        default=None,
        help="the region (and year) whose tiles to copy, e.g. middlesexma2010 (default: "
        "globals.yml's region); its container is named after it",
    )
    parser.add_argument(
        "--params",
        default="",
        type=_folder_params,
        help="the folders to copy, as `kedro run --params` names them: "
        f"{', '.join(FOLDER_PARAMS)} (e.g. train_folder=naipdemo2016)",
    )
    parser.add_argument(
        "--project", default=None, type=Path, help="project root (default: the current one)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    project = project_root(args.project)
    bootstrap_project(project)
    try:
        folders = {**args.params, **({"region": args.region} if args.region else {})}
        copied, skipped = upload(project, args.env, folders)
    except (StorageError, ValueError) as exc:
        print(f"upload failed: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"Uploaded {copied} file(s), skipped {skipped} already there.")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
