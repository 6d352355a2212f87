"""Ingest nodes: turn tile folders into a tile index and a quarantine report."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from aerial_landuse.core.contracts import (
    BOUND_COLUMNS,
    IGNORED_COLUMNS,
    LISTING_COLUMNS,
    LISTING_SCHEMA,
    PROBE_FIELDS,
    QUARANTINE_COLUMNS,
    UNLABELLED_STAGE,
)
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.inference import probe_partition
from aerial_landuse.core.spark_frames import count_by, partitions_for
from aerial_landuse.core.tiles.images import TileLimits
from aerial_landuse.core.tiles.land_cover import (
    LAND_COVER,
    LabelRule,
    LandCoverLabels,
    label_cells,
    polygon_labels,
)
from aerial_landuse.core.tiles.raster_region import (
    GRID_COUNTS,
    RasterRegion,
    cell_squares,
    in_area,
)
from aerial_landuse.core.tiles.sampling import mark_sample
from aerial_landuse.core.tiles.usable import check_usable
from aerial_landuse.storage import FolderScan, TileFolder
from aerial_landuse.storage.raster_region import (
    AREA_FILE,
    area_outline,
    labelled_raster_files,
    rasterio_opener,
    read_label_polygons,
    read_land_cover,
    read_raster_region,
    region_raster_files,
)

logger = logging.getLogger(__name__)
UNLABELLED = "unlabelled: "  # a probe error that says the cell has no class (not unreadable)


def _with_ids(listing: pd.DataFrame, prefix_split: bool) -> pd.DataFrame:
    filenames = listing["relpath"].map(lambda p: PurePosixPath(p).name)
    ids = listing["split"] + "/" + listing["relpath"] if prefix_split else listing["relpath"]
    return listing.assign(id=ids, filename=filenames)


def _scan(tiles: TileFolder, params: dict[str, Any]) -> FolderScan:
    """The folder listed by the ingest rules: links, and files too large to be a tile."""
    return tiles.scan(bool(params["follow_external_links"]), TileLimits.of(params))


def list_labelled_tiles(
    train_tiles: TileFolder,
    test_tiles: TileFolder,
    params: dict[str, Any],
    land_cover: TileFolder | None = None,
    area_of_interest: Any | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Every labelled file (paths only, no pixels), ``split`` naming the folder it came from:
    train and test folders, or the train folder alone when ``test_fraction`` splits it. Which
    tiles train and which test is decided after featurize (train pipeline), so that changing the
    split or the sample never needs the tiles again; every listed tile is probed and featurized.
    Files refused by a listing rule carry their ``reason`` (quarantined at ingest); ignored files
    (hidden, OS, other formats) are the second output; the third is ``{}``.

    When train_tiles holds GeoTIFF/COG imagery (or a STAC JSON) instead of class folders, its
    cells are listed instead (those inside ``area_of_interest`` when given), unlabelled (probe
    labels them from the ``land_cover`` raster on the executors), with the set's region
    record: grid, files and label rule."""
    rasters = labelled_raster_files(train_tiles, params["raster"]["stac_asset"])
    if rasters:
        return _list_labelled_cells(train_tiles, rasters, land_cover, area_of_interest, params)
    if area_of_interest is not None:
        _warn_area_ignored(train_tiles, "tiles are used whole")
    scans = {"train": _scan(train_tiles, params)}
    if params["test_fraction"] is None:
        scans["test"] = _scan(test_tiles, params)
    listing = pd.concat(
        [scan.tiles.assign(split=s) for s, scan in scans.items()], ignore_index=True
    )
    _check_classes(listing[listing["reason"].isna()], train_tiles, test_tiles)
    listing = _with_ids(listing, prefix_split=True).assign(sampled=True)
    for column in BOUND_COLUMNS:
        listing[column] = np.nan
    ignored = _ignored(scans)
    logger.info(
        "Listed %d labelled tiles (%d refused by a listing rule, %d other files ignored)",
        len(listing),
        listing["reason"].notna().sum(),
        len(ignored),
    )
    return listing, ignored, {}


def _list_labelled_cells(
    folder: TileFolder,
    rasters: list[str],
    land_cover: TileFolder | None,
    area: Any | None,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The cells of a labelled raster set over its imagery (and inside the ``area`` of
    interest), one listing row each (``split``: train, the folder; labels come at probe), no
    ignored file, and the set's region record with its land-cover files and label rule."""
    region = read_raster_region(folder, rasters, params["raster"])
    rule = params["land_cover"]
    cells, counts = _cells_in_area(folder, region, area)
    listing = _cell_listing(cells, "train").assign(sampled=True)
    polygons = read_label_polygons(land_cover, region.grid.crs, rule["class_column"])
    if polygons is None:
        stac_asset = params["raster"]["stac_asset"]
        sources = read_land_cover(land_cover, stac_asset, folder)
        labels = LandCoverLabels(tuple(sources), LabelRule.of(rule))
        how, labelled_by = labels.to_record(), f"{len(sources)} land-cover file(s)"
    else:
        listing = _labelled_by_polygons(listing, region, polygons, float(rule["min_label_purity"]))
        how = {"polygons": polygons[2], "min_label_purity": float(rule["min_label_purity"])}
        labelled_by = f"{len(polygons[0])} labelled polygon(s)"
    logger.info(
        "Labelled raster set %s: %d file(s), %d cells of %g m over the imagery%s (%s), labelled "
        "from %s",
        folder.storage.uri(folder.root),
        len(region.sources),
        counts["grid_cells"] - counts["outside_imagery"],
        region.grid.cell_size,
        "" if area is None else f", {len(cells)} of those in the area of interest",
        region.grid.crs,
        labelled_by,
    )
    record = {**region.to_record(), LAND_COVER: how, GRID_COUNTS: counts}
    return listing, pd.DataFrame(columns=IGNORED_COLUMNS), record


def _cells_in_area(
    folder: TileFolder, region: RasterRegion, area: Any | None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """A raster region's cells over its imagery and inside the ``area`` of interest when given,
    and how many of the grid's cells lie outside either (refused: an area beside the imagery)."""
    grid = region.grid
    over_imagery = region.cells()
    cells = over_imagery
    if area is not None:
        outline = area_outline(area, grid.crs, folder)
        cells = over_imagery[in_area(grid, over_imagery["id"].tolist(), outline)]
        if cells.empty:
            raise UserInputError(
                f"The area of interest {folder.storage.uri(folder.root)}/{AREA_FILE} does not "
                f"overlap the region's imagery ({grid.crs}): check the layer and the region."
            )
    counts = {
        "grid_cells": grid.cells,
        "outside_imagery": grid.cells - len(over_imagery),
        "outside_area": len(over_imagery) - len(cells),
    }
    return cells, counts


def _cell_listing(cells: pd.DataFrame, split: str) -> pd.DataFrame:
    """Listing rows of raster cells: path, id and filename the cell id (bounds: its square in
    degrees); no pixel is read here."""
    listing = cells.drop(columns=["col", "row"]).assign(
        path=cells["id"], filename=cells["id"], label=None, split=split, reason=None
    )
    return listing.reindex(columns=[*LISTING_COLUMNS, "reason"])


def _warn_area_ignored(folder: TileFolder, why: str) -> None:
    logger.warning(
        "%s/%s is ignored: an area of interest clips the grid of GeoTIFF/COG imagery; %s "
        "(move the tiles outside the area out of the folder).",
        folder.storage.uri(folder.root),
        AREA_FILE,
        why,
    )


def _labelled_by_polygons(
    listing: pd.DataFrame, region: RasterRegion, polygons: tuple, min_purity: float
) -> pd.DataFrame:
    """The cells with their class from the labelled polygons (their exact squares measured in
    the grid's CRS), the others refused with the reason, as unlabelled."""
    geometries, classes, _ = polygons
    squares = cell_squares(region.grid, listing["id"].tolist())
    found = polygon_labels(squares, geometries, classes, min_purity)
    return listing.assign(
        label=[cell.label for cell in found],
        reason=[None if cell.label else UNLABELLED + str(cell.reason) for cell in found],
    )


def _ignored(scans: dict[str, FolderScan]) -> pd.DataFrame:
    frames = [scan.ignored.assign(split=split) for split, scan in scans.items()]
    return pd.concat(frames, ignore_index=True).reindex(columns=IGNORED_COLUMNS)


def _check_classes(listing: pd.DataFrame, train_tiles: TileFolder, test_tiles: TileFolder) -> None:
    train_classes = set(listing.loc[listing["split"] == "train", "label"])
    test_only = sorted(set(listing.loc[listing["split"] == "test", "label"]) - train_classes)
    if test_only:
        raise UserInputError(
            f"Class folder(s) {test_only} have test tiles ({test_tiles.storage.uri(test_tiles.root)}) "
            f"but no training tiles ({train_tiles.storage.uri(train_tiles.root)}): add training tiles "
            "or remove those test folders."
        )
    if len(train_classes) < 2:
        raise UserInputError(
            f"Only {len(train_classes)} class found under {train_tiles.storage.uri(train_tiles.root)}: "
            "a classifier needs at least two class folders."
        )


def list_score_tiles(
    score_tiles: TileFolder,
    tile_summaries: pd.DataFrame | None,
    area_of_interest: Any | None,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Tiles to score joined with their bounds from tile_summaries.csv (one row per tile), the
    files of the folder that are ignored (hidden, OS, other formats), and ``{}``; or, for a
    region of GeoTIFF/COG files (no tile_summaries.csv), its cells over the imagery and inside
    the ``area_of_interest`` polygons when given, no ignored file, and the region's record
    (grid, files, chip settings: ``RasterRegion``; and how many of the grid's cells lie outside
    the imagery or the area).

    No score region (its folder does not exist): an empty listing and one line that says so,
    so that a user with labelled tiles only gets everything else, report included.
    """
    if not score_tiles.exists():
        where = (
            f"{score_tiles.storage.uri(score_tiles.root)} does not exist"
            if score_tiles.root
            else "score_tiles has no path"
        )
        logger.warning(
            "No score region (%s), so scoring is skipped. To score a region, point score_tiles "
            "and tile_summaries at its tiles (README: Your own tiles).",
            where,
        )
        empty = pd.DataFrame(columns=[*LISTING_COLUMNS, "reason", "sampled"])
        return empty.astype({"sampled": bool}), pd.DataFrame(columns=IGNORED_COLUMNS), {}
    if tile_summaries is None:
        rasters = region_raster_files(score_tiles, params["raster"]["stac_asset"])
        if rasters:
            return _list_raster_cells(score_tiles, rasters, area_of_interest, params)
        raise UserInputError(
            f"The score region {score_tiles.storage.uri(score_tiles.root)} has no "
            "tile_summaries.csv: add one (filename, llcrnrlat, llcrnrlon, urcrnrlat, urcrnrlon, "
            "decimal degrees) or point the tile_summaries catalog entry at it. A region of "
            "GeoTIFF/COG mosaics needs none: put the .tif files (or a STAC JSON listing them) "
            "in the folder."
        )
    if area_of_interest is not None:
        _warn_area_ignored(score_tiles, "a region of tiles is scored whole")
    scan = _scan(score_tiles, params)
    listing = _with_ids(scan.tiles.assign(split="score", label=None), prefix_split=False)
    summaries = _checked_summaries(tile_summaries, score_tiles)
    key, keyed = _summaries_to_join(listing, summaries, score_tiles)
    merged = listing.merge(keyed, on=key, how="left", validate="many_to_one")
    missing = merged.loc[merged["llcrnrlat"].isna(), key].tolist()
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise UserInputError(
            f"{len(missing)} tile(s) under {score_tiles.storage.uri(score_tiles.root)} have no row in "
            f"tile_summaries.csv: {shown}. Add a row (filename, llcrnrlat, llcrnrlon, urcrnrlat, "
            "urcrnrlon) for each, or move those tiles out of the folder."
        )
    unused = len(summaries) - merged[key].nunique()
    if unused:
        logger.warning(
            "tile_summaries.csv lists %d tile(s) that are not in the score folder", unused
        )
    sampled = mark_sample(merged, float(params["score_sample_frac"]), int(params["seed"]), by=None)
    return merged.assign(sampled=sampled), _ignored({"score": scan}), {}


def _list_raster_cells(
    folder: TileFolder, rasters: list[str], area: Any | None, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The cells of a raster region that overlap its imagery (and the ``area`` of interest), one
    listing row each; no pixel is read here."""
    region = read_raster_region(folder, rasters, params["raster"])
    grid = region.grid
    cells, counts = _cells_in_area(folder, region, area)
    listing = _cell_listing(cells, "score")
    sampled = mark_sample(listing, float(params["score_sample_frac"]), int(params["seed"]), by=None)
    logger.info(
        "Raster region %s: %d file(s) on a %s grid of %g m cells (%d x %d), %d of them over "
        "the imagery%s",
        folder.storage.uri(folder.root),
        len(region.sources),
        grid.crs,
        grid.cell_size,
        grid.cols,
        grid.rows,
        counts["grid_cells"] - counts["outside_imagery"],
        "" if area is None else f", {len(cells)} of those in the area of interest",
    )
    listing = listing.assign(sampled=sampled)
    record = {**region.to_record(), GRID_COUNTS: counts}
    return listing, pd.DataFrame(columns=IGNORED_COLUMNS), record


BOUND_RANGES = {"llcrnrlat": 90.0, "urcrnrlat": 90.0, "llcrnrlon": 180.0, "urcrnrlon": 180.0}


def _checked_summaries(summaries: pd.DataFrame, score_tiles: TileFolder) -> pd.DataFrame:
    """tile_summaries.csv checked before any tile is read: the columns, numeric finite bounds in
    range (decimal degrees), the corners in order, one row per tile."""
    required = ["filename", *BOUND_COLUMNS]
    absent = [c for c in required if c not in summaries.columns]
    where = f"tile_summaries.csv for {score_tiles.storage.uri(score_tiles.root)}"
    if absent:
        raise UserInputError(
            f"{where} lacks column(s) {absent}; it needs {required} (decimal degrees)."
        )
    out = summaries[required].copy()
    out["filename"] = out["filename"].astype(str).str.strip().str.removeprefix("./")
    dupes = out.loc[out["filename"].duplicated(), "filename"].unique().tolist()
    if dupes:
        raise UserInputError(
            f"{where} has more than one row for {dupes[:5]}: keep one row per tile."
        )
    for column, limit in BOUND_RANGES.items():
        out[column] = _bounds_column(out, column, limit, where)
    bad = out[(out["urcrnrlat"] <= out["llcrnrlat"]) | (out["urcrnrlon"] <= out["llcrnrlon"])]
    if len(bad):
        raise UserInputError(
            f"{where}: {len(bad)} row(s) have upper-right corner not north-east of lower-left, "
            f"e.g. {bad['filename'].iloc[0]}. Check the column order (llcrnrlat, llcrnrlon, urcrnrlat, urcrnrlon)."
        )
    return out


def _bounds_column(rows: pd.DataFrame, column: str, limit: float, where: str) -> pd.Series:
    """``column`` as finite floats within +-``limit`` degrees, or a ValueError naming the rows."""
    values = pd.to_numeric(rows[column], errors="coerce").astype("float64")
    problems = {
        "is not a number": values.isna() & rows[column].notna(),
        "is empty": rows[column].isna(),
        "is infinite": np.isinf(values),
        f"is outside -{limit:g}..{limit:g} degrees": values.abs().gt(limit) & np.isfinite(values),
    }
    for problem, mask in problems.items():
        if mask.any():
            first = rows.loc[mask].iloc[0]
            raise UserInputError(
                f"{where}: {column} {problem} in {int(mask.sum())} row(s), e.g. "
                f"{first['filename']}: {first[column]!r}. Bounds are decimal degrees (WGS84)."
            )
    return values


def _summaries_to_join(
    listing: pd.DataFrame, summaries: pd.DataFrame, score_tiles: TileFolder
) -> tuple[str, pd.DataFrame]:
    """(key, summaries keyed by it): the relative path when tile_summaries.csv gives those, else
    the file name, which must then be unique on both sides (two x.png in different sub-folders
    cannot share one row)."""
    given = summaries["filename"]
    if given.str.contains("/").any() and given.isin(listing["relpath"]).any():
        return "relpath", summaries.rename(columns={"filename": "relpath"})
    names = summaries.assign(filename=given.map(lambda p: PurePosixPath(p).name))
    for side, frame, column in (
        (f"tiles under {score_tiles.storage.uri(score_tiles.root)}", listing, "relpath"),
        ("rows of tile_summaries.csv", summaries.assign(relpath=given), "relpath"),
    ):
        names_of = frame[column].map(lambda p: PurePosixPath(p).name)
        shared = frame.loc[names_of.duplicated(keep=False), column].sort_values()
        if len(shared):
            raise UserInputError(
                f"{len(shared)} {side} share a file name in different folders (e.g. "
                f"{', '.join(shared.head(2))}), so tiles and rows cannot be matched by name: "
                "write each tile's path relative to the score folder in the filename column "
                "of tile_summaries.csv (e.g. 2019/x.png)."
            )
    return "filename", names


def _sampled_frame(listing: pd.DataFrame, tiles: TileFolder) -> tuple[DataFrame, int]:
    """The sampled tiles that no listing rule refused, as a Spark frame, and how many."""
    sampled = listing.loc[listing["sampled"] & listing["reason"].isna(), LISTING_COLUMNS]
    frame = tiles.spark_frame(sampled.astype(object).where(sampled.notna(), None), LISTING_SCHEMA)
    return frame, len(sampled)


def unopened_tiles(listing: pd.DataFrame, tiles: TileFolder) -> DataFrame:
    """The sampled tiles (files refused at listing left out: they are quarantined with their
    reason), their header columns empty: nothing is opened here. The tiles to score and the
    cells of a raster region are read once, by featurize, which quarantines those it cannot
    read (or, for a cell, with too many pixels without data) with the reason."""
    frame, _ = _sampled_frame(listing, tiles)
    return _with_empty_headers(frame)


def _with_empty_headers(frame: DataFrame) -> DataFrame:
    nulls = [F.lit(None).cast(field.dataType).alias(field.name) for field in PROBE_FIELDS]
    return frame.select("*", *nulls)


def probe_tiles(
    listing: pd.DataFrame,
    tiles: TileFolder,
    params: dict[str, Any],
    raster_region: dict[str, Any] | None = None,
) -> DataFrame:
    """Sampled labelled tiles with header info (size, mode, format) or the reason they cannot
    be read (files refused at listing are not opened: they are quarantined with their reason),
    so that fine-tuning and the split see only readable tiles. The cells of a labelled raster
    set get their class from its land cover here; their imagery is read by featurize."""
    frame, rows = _sampled_frame(listing, tiles)
    if raster_region:
        labels = LandCoverLabels.from_record(raster_region)
        frame = _with_empty_headers(frame)
        if labels is None:
            return frame
        return _labelled_cells(frame, rows, tiles, raster_region, labels, params)
    frame = frame.repartition(partitions_for(frame, rows, int(params["rows_per_partition"])))
    schema = T.StructType(LISTING_SCHEMA.fields + PROBE_FIELDS)
    limits = TileLimits.of(params)
    return frame.mapInPandas(partial(probe_partition, storage=tiles.storage, limits=limits), schema)


def _labelled_cells(
    frame: DataFrame,
    rows: int,
    tiles: TileFolder,
    raster_region: dict[str, Any],
    labels: LandCoverLabels,
    params: dict[str, Any],
) -> DataFrame:
    """The cells of a labelled raster set with their class from the land-cover raster, read on
    the executors (neighbouring cells per task, so that a task reads nearby windows)."""
    region = RasterRegion.from_record(raster_region)
    assert region is not None
    partitions = partitions_for(frame, rows, int(params["rows_per_partition"]))
    frame = frame.repartitionByRange(partitions, "id")  # cells in id order: a column after another
    label = partial(
        label_cells,
        grid=region.grid,
        labels=labels,
        opener=rasterio_opener(tiles.storage),
        unlabelled_prefix=UNLABELLED,
    )
    return frame.mapInPandas(label, frame.schema)


def split_index_and_quarantine(
    probed: DataFrame,
    listing: pd.DataFrame,
    ignored: pd.DataFrame,
    params: dict[str, Any],
    raster_region: dict[str, Any] | None = None,
) -> tuple[DataFrame, pd.DataFrame, dict[str, Any]]:
    """Readable tiles (the index), unreadable ones and those refused at listing (quarantine),
    and counts that reconcile (ignored files counted beside them; for a raster region, its
    grid's cells too: listed + outside the imagery + outside the area of interest).

    Stops the run when a split has no readable tile, or when its quarantined share passes
    ``max_quarantined_share``: then something is wrong with the folder, not with a few tiles.
    """
    probed = probed.persist()
    index = probed.where(F.col("error").isNull()).drop("error")
    bad = probed.where(F.col("error").isNotNull())
    unlabelled = F.col("error").startswith(UNLABELLED)
    quarantine = bad.select(
        "path",
        "split",
        "label",
        F.when(unlabelled, F.lit(UNLABELLED_STAGE)).otherwise(F.lit("ingest")).alias("stage"),
        F.when(unlabelled, F.substring("error", len(UNLABELLED) + 1, 100_000))
        .otherwise(F.col("error"))
        .alias("reason"),
    ).toPandas()
    refused = listing.loc[listing["sampled"] & listing["reason"].notna()]
    unlabelled = refused["reason"].astype(str).str.startswith(UNLABELLED)
    refused = refused.assign(
        stage=np.where(unlabelled, UNLABELLED_STAGE, "ingest"),
        reason=refused["reason"].astype(str).str.removeprefix(UNLABELLED),
    )
    quarantine = pd.concat(
        [quarantine, refused[["path", "split", "label", "stage", "reason"]]], ignore_index=True
    )
    summary = ingest_summary(listing, count_by(index, "split"), quarantine, ignored)
    if raster_region and GRID_COUNTS in raster_region:
        split = "train" if LAND_COVER in raster_region else "score"
        summary = _with_grid_counts(summary, raster_region[GRID_COUNTS], split)
    check_usable_share(summary, listing, quarantine, float(params["max_quarantined_share"]))
    unreadable = int((quarantine["stage"] != UNLABELLED_STAGE).sum())
    if unreadable:
        logger.warning("Quarantined %d unreadable tile(s); see the quarantine report", unreadable)
    if unreadable < len(quarantine):
        logger.info(
            "%d cell(s) have no class in the land-cover raster (listed with the reason in the "
            "ingest quarantine, stage %r)",
            len(quarantine) - unreadable,
            UNLABELLED_STAGE,
        )
    return index, quarantine.reindex(columns=QUARANTINE_COLUMNS), summary


def _with_grid_counts(
    summary: dict[str, Any], counts: dict[str, int], split: str
) -> dict[str, Any]:
    """``split``'s row with the grid's cells (raises if they do not reconcile with the listing)."""
    row = summary.get(split, {"listed": 0})
    if counts["grid_cells"] != row["listed"] + counts["outside_imagery"] + counts["outside_area"]:
        raise RuntimeError(f"Grid cells do not reconcile with the listing: {counts}, {row}")
    return {**summary, split: {**row, "grid": counts}}


def check_usable_share(
    summary: dict[str, Any], listing: pd.DataFrame, quarantine: pd.DataFrame, limit: float
) -> None:
    """Stop the run (``UnusableTilesError``, naming the folder, the count and the first
    reasons) when a split has no readable tile or more than ``limit`` of its sampled tiles are
    unreadable."""
    for split, row in summary.items():
        sampled = row["listed"] - row["sampled_out"]
        paths = listing.loc[listing["split"] == split, "path"].astype(str).tolist()
        reasons = quarantine.loc[quarantine["split"] == split, "reason"]
        counts = (row["quarantined"], row["indexed"], sampled)
        check_usable(split, counts, paths, reasons, limit)


def ingest_summary(
    listing: pd.DataFrame,
    indexed: dict[str, int],
    quarantine: pd.DataFrame,
    ignored: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Per split: listed = sampled_out + quarantined + indexed (raises if not); ``ignored``
    counts the folder's other files (hidden, OS, other formats), which are not listed."""
    summary: dict[str, Any] = {}
    stages = quarantine["stage"] if "stage" in quarantine else pd.Series("ingest", quarantine.index)
    for split, group in listing.groupby("split"):
        mine = quarantine["split"] == split if len(quarantine) else pd.Series(dtype=bool)
        unlabelled = int((mine & (stages == UNLABELLED_STAGE)).sum())
        row = {
            "listed": len(group),
            "sampled_out": int((~group["sampled"]).sum()),
            "quarantined": int(mine.sum()) - unlabelled,
            "indexed": int(indexed.get(str(split), 0)),
        }
        if unlabelled:  # cells of a labelled raster set the land cover gives no class
            row["unlabelled"] = unlabelled
        row["ignored"] = 0 if ignored is None else int((ignored["split"] == split).sum())
        if row["listed"] != row["sampled_out"] + row["quarantined"] + unlabelled + row["indexed"]:
            raise RuntimeError(f"Tile counts do not reconcile for split {split}: {row}")
        if group["label"].notna().any():
            row["per_class_listed"] = {
                str(k): int(v) for k, v in group.groupby("label").size().items()
            }
        summary[str(split)] = row
    return summary
