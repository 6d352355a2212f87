"""Ingest nodes: turn tile folders into a tile index and a quarantine report."""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from aerial_landuse.contracts import (
    BOUND_COLUMNS,
    LISTING_COLUMNS,
    LISTING_SCHEMA,
    PROBE_FIELDS,
    QUARANTINE_COLUMNS,
)
from aerial_landuse.inference import probe_partition
from aerial_landuse.sampling import mark_sample
from aerial_landuse.spark_utils import count_by, partitions_for
from aerial_landuse.storage import TileFolder

logger = logging.getLogger(__name__)


def _with_ids(listing: pd.DataFrame, prefix_split: bool) -> pd.DataFrame:
    filenames = listing["relpath"].map(lambda p: PurePosixPath(p).name)
    ids = listing["split"] + "/" + listing["relpath"] if prefix_split else listing["relpath"]
    return listing.assign(id=ids, filename=filenames)


def list_labelled_tiles(
    train_tiles: TileFolder, test_tiles: TileFolder, params: dict[str, Any]
) -> pd.DataFrame:
    """Every labelled tile (paths only, no pixels), ``split`` naming the folder it came from:
    train and test folders, or the train folder alone when ``test_fraction`` splits it. Which
    tiles train and which test is decided after featurize (train pipeline), so that changing the
    split or the sample never needs the tiles again; every listed tile is probed and featurized."""
    folders = [train_tiles.list_tiles().assign(split="train")]
    if params.get("test_fraction") is None:
        folders.append(test_tiles.list_tiles().assign(split="test"))
    listing = pd.concat(folders, ignore_index=True)
    _check_classes(listing, train_tiles, test_tiles)
    listing = _with_ids(listing, prefix_split=True).assign(sampled=True)
    for column in BOUND_COLUMNS:
        listing[column] = np.nan
    logger.info("Listed %d labelled tiles", len(listing))
    return listing


def _check_classes(listing: pd.DataFrame, train_tiles: TileFolder, test_tiles: TileFolder) -> None:
    train_classes = set(listing.loc[listing["split"] == "train", "label"])
    test_only = sorted(set(listing.loc[listing["split"] == "test", "label"]) - train_classes)
    if test_only:
        raise ValueError(
            f"Class folder(s) {test_only} have test tiles ({test_tiles.storage.uri(test_tiles.root)}) "
            f"but no training tiles ({train_tiles.storage.uri(train_tiles.root)}): add training tiles "
            "or remove those test folders."
        )
    if len(train_classes) < 2:
        raise ValueError(
            f"Only {len(train_classes)} class found under {train_tiles.storage.uri(train_tiles.root)}: "
            "a classifier needs at least two class folders."
        )


def list_score_tiles(
    score_tiles: TileFolder, tile_summaries: pd.DataFrame | None, params: dict[str, Any]
) -> pd.DataFrame:
    """Tiles to score joined with their bounds from tile_summaries.csv (one row per tile).

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
        return pd.DataFrame(columns=[*LISTING_COLUMNS, "sampled"]).astype({"sampled": bool})
    if tile_summaries is None:
        raise ValueError(
            f"The score region {score_tiles.storage.uri(score_tiles.root)} has no "
            "tile_summaries.csv: add one (filename, llcrnrlat, llcrnrlon, urcrnrlat, urcrnrlon, "
            "decimal degrees) or point the tile_summaries catalog entry at it."
        )
    listing = score_tiles.list_tiles().assign(split="score", label=None)
    listing = _with_ids(listing, prefix_split=False)
    summaries = _checked_summaries(tile_summaries, score_tiles)
    merged = listing.merge(summaries, on="filename", how="left", validate="many_to_one")
    missing = merged.loc[merged["llcrnrlat"].isna(), "filename"].tolist()
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ValueError(
            f"{len(missing)} tile(s) under {score_tiles.storage.uri(score_tiles.root)} have no row in "
            f"tile_summaries.csv: {shown}. Add a row (filename, llcrnrlat, llcrnrlon, urcrnrlat, "
            "urcrnrlon) for each, or move those tiles out of the folder."
        )
    unused = len(summaries) - merged["filename"].nunique()
    if unused:
        logger.warning(
            "tile_summaries.csv lists %d tile(s) that are not in the score folder", unused
        )
    sampled = mark_sample(merged, float(params["score_sample_frac"]), int(params["seed"]), by=None)
    return merged.assign(sampled=sampled)


def _checked_summaries(summaries: pd.DataFrame, score_tiles: TileFolder) -> pd.DataFrame:
    required = ["filename", *BOUND_COLUMNS]
    absent = [c for c in required if c not in summaries.columns]
    where = f"tile_summaries.csv for {score_tiles.storage.uri(score_tiles.root)}"
    if absent:
        raise ValueError(
            f"{where} lacks column(s) {absent}; it needs {required} (decimal degrees)."
        )
    out = summaries[required].copy()
    out["filename"] = out["filename"].astype(str).map(lambda p: PurePosixPath(p).name)
    dupes = out.loc[out["filename"].duplicated(), "filename"].unique().tolist()
    if dupes:
        raise ValueError(f"{where} has more than one row for {dupes[:5]}: keep one row per tile.")
    bad = out[(out["urcrnrlat"] <= out["llcrnrlat"]) | (out["urcrnrlon"] <= out["llcrnrlon"])]
    if len(bad):
        raise ValueError(
            f"{where}: {len(bad)} row(s) have upper-right corner not north-east of lower-left, "
            f"e.g. {bad['filename'].iloc[0]}. Check the column order (llcrnrlat, llcrnrlon, urcrnrlat, urcrnrlon)."
        )
    return out.astype({c: "float64" for c in BOUND_COLUMNS})


def probe_tiles(listing: pd.DataFrame, tiles: TileFolder, params: dict[str, Any]) -> DataFrame:
    """Sampled tiles with header info (size, mode, format) or the reason they cannot be read."""
    sampled = listing.loc[listing["sampled"], LISTING_COLUMNS]
    frame = tiles.spark_frame(sampled.astype(object).where(sampled.notna(), None), LISTING_SCHEMA)
    frame = frame.repartition(
        partitions_for(frame, len(sampled), int(params["rows_per_partition"]))
    )
    schema = T.StructType(LISTING_SCHEMA.fields + PROBE_FIELDS)
    return frame.mapInPandas(partial(probe_partition, storage=tiles.storage), schema)


class UnusableTilesError(ValueError):
    """Too many tiles of a split could not be read: the run stops before any heavy work."""


def split_index_and_quarantine(
    probed: DataFrame, listing: pd.DataFrame, params: dict[str, Any]
) -> tuple[DataFrame, pd.DataFrame, dict[str, Any]]:
    """Readable tiles (the index), unreadable ones (quarantine) and counts that reconcile.

    Stops the run when a split has no readable tile, or when its quarantined share passes
    ``max_quarantined_share``: then something is wrong with the folder, not with a few tiles.
    """
    probed = probed.persist()
    index = probed.where(F.col("error").isNull()).drop("error")
    bad = probed.where(F.col("error").isNotNull())
    quarantine = bad.select(
        "path", "split", "label", F.lit("ingest").alias("stage"), F.col("error").alias("reason")
    ).toPandas()
    summary = ingest_summary(listing, count_by(index, "split"), quarantine)
    check_usable_share(summary, listing, quarantine, float(params["max_quarantined_share"]))
    if quarantine.shape[0]:
        logger.warning(
            "Quarantined %d unreadable tile(s); see the quarantine report", len(quarantine)
        )
    return index, quarantine.reindex(columns=QUARANTINE_COLUMNS), summary


def check_usable_share(
    summary: dict[str, Any], listing: pd.DataFrame, quarantine: pd.DataFrame, limit: float
) -> None:
    """Raise ``UnusableTilesError`` naming the folder, the count and the first reasons when a
    split has no readable tile or more than ``limit`` of its sampled tiles are unreadable."""
    for split, row in summary.items():
        sampled = row["listed"] - row["sampled_out"]
        if not sampled or (row["indexed"] and row["quarantined"] <= limit * sampled):
            continue
        paths = listing.loc[listing["split"] == split, "path"].astype(str).tolist()
        where = os.path.commonpath(paths) if len(paths) > 1 else paths[0]
        reasons = quarantine.loc[quarantine["split"] == split, "reason"].value_counts().head(3)
        shown = "; ".join(f"{n} x {reason[:160]}" for reason, n in reasons.items())
        raise UnusableTilesError(
            f"{row['quarantined']} of {sampled} {split} tiles under {where} could not be read "
            f"(limit: {limit:.0%}, ingest.max_quarantined_share). First reasons: {shown}. "
            + (
                "Spark's executors open every tile themselves: on a cluster, tiles must be on "
                "storage they can reach (a blob container, not the driver's disk)."
                if "FileNotFoundError" in shown
                else "Check the folder and its files, or raise the limit if this is expected."
            )
        )


def ingest_summary(
    listing: pd.DataFrame, indexed: dict[str, int], quarantine: pd.DataFrame
) -> dict[str, Any]:
    """Per split: listed = sampled_out + quarantined + indexed (raises if not)."""
    summary: dict[str, Any] = {}
    for split, group in listing.groupby("split"):
        quarantined = int((quarantine["split"] == split).sum()) if len(quarantine) else 0
        row = {
            "listed": len(group),
            "sampled_out": int((~group["sampled"]).sum()),
            "quarantined": quarantined,
            "indexed": int(indexed.get(str(split), 0)),
        }
        if row["listed"] != row["sampled_out"] + row["quarantined"] + row["indexed"]:
            raise RuntimeError(f"Tile counts do not reconcile for split {split}: {row}")
        if group["label"].notna().any():
            row["per_class_listed"] = {
                str(k): int(v) for k, v in group.groupby("label").size().items()
            }
        summary[str(split)] = row
    return summary
