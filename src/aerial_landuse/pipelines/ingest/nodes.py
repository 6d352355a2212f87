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
from aerial_landuse.spark_utils import count_by, partitions_for
from aerial_landuse.storage import TileFolder

logger = logging.getLogger(__name__)


def stratified_split(listing: pd.DataFrame, test_fraction: float, seed: int) -> pd.DataFrame:
    """Assign ``split`` train/test per class, ``test_fraction`` of each class to test (seeded)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"ingest.test_fraction must be between 0 and 1 (exclusive), got {test_fraction}."
        )
    rng = np.random.default_rng(seed)
    parts = []
    for _, group in listing.sort_values("path").groupby("label", sort=True):
        order = rng.permutation(len(group))
        n_test = int(round(len(group) * test_fraction))
        n_test = min(max(n_test, 1 if len(group) > 1 else 0), len(group) - 1)
        split = np.where(np.isin(np.arange(len(group)), order[:n_test]), "test", "train")
        parts.append(group.assign(split=split))
    return pd.concat(parts, ignore_index=True)


def mark_sample(
    listing: pd.DataFrame, sample_frac: float, seed: int, by: str | None
) -> pd.DataFrame:
    """Add ``sampled``: a seeded ``sample_frac`` of the rows (per ``by`` group, at least one each)."""
    if not 0.0 < sample_frac <= 1.0:
        raise ValueError(f"sample_frac must be in (0, 1], got {sample_frac}.")
    listing = listing.sort_values("path").reset_index(drop=True)
    if sample_frac == 1.0:
        return listing.assign(sampled=True)
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(listing), dtype=bool)
    groups = listing.groupby(by, sort=True).indices if by else {"all": np.arange(len(listing))}
    for rows in groups.values():
        n = max(1, int(round(len(rows) * sample_frac)))
        keep[rng.choice(rows, size=n, replace=False)] = True
    return listing.assign(sampled=keep)


def _with_ids(listing: pd.DataFrame, prefix_split: bool) -> pd.DataFrame:
    filenames = listing["relpath"].map(lambda p: PurePosixPath(p).name)
    ids = listing["split"] + "/" + listing["relpath"] if prefix_split else listing["relpath"]
    return listing.assign(id=ids, filename=filenames)


def list_labelled_tiles(
    train_tiles: TileFolder, test_tiles: TileFolder, params: dict[str, Any]
) -> pd.DataFrame:
    """Train and test tiles with labels, split and sampling decided (paths only, no pixels)."""
    test_fraction = params.get("test_fraction")
    if test_fraction is None:
        listing = pd.concat(
            [
                train_tiles.list_tiles().assign(split="train"),
                test_tiles.list_tiles().assign(split="test"),
            ],
            ignore_index=True,
        )
    else:
        listing = stratified_split(
            train_tiles.list_tiles(), float(test_fraction), int(params["seed"])
        )
    _check_classes(listing, train_tiles, test_tiles)
    listing = mark_sample(
        listing, float(params["sample_frac"]), int(params["seed"]), by=["split", "label"]
    )
    listing = _with_ids(listing, prefix_split=True)
    for column in BOUND_COLUMNS:
        listing[column] = np.nan
    logger.info(
        "Listed %d labelled tiles (%d sampled)", len(listing), int(listing["sampled"].sum())
    )
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
    score_tiles: TileFolder, tile_summaries: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Tiles to score joined with their bounds from tile_summaries.csv (one row per tile)."""
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
    return mark_sample(merged, float(params["score_sample_frac"]), int(params["seed"]), by=None)


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
