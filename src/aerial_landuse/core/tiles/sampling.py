"""Seeded, stratified choices over tile listings: the train/test split and the sample.

Pure pandas functions shared by ingest (the score region's sample) and train (the split, decided
after featurize so that changing it never needs the tiles again).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aerial_landuse.core.contracts import UNLABELLED_STAGE
from aerial_landuse.core.geometry.cell_grid import split_of
from aerial_landuse.core.tiles.raster_region import cell_position


def stratified_split(listing: pd.DataFrame, test_fraction: float, seed: int) -> pd.DataFrame:
    """Assign ``split`` train/test per class, ``test_fraction`` of each class to test (seeded,
    independent of the listing's order)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"ingest.test_fraction must be between 0 and 1 (exclusive), got {test_fraction}."
        )
    rng = np.random.default_rng(seed)
    parts = []
    for _, group in listing.sort_values("path").groupby("label", sort=True, dropna=False):
        order = rng.permutation(len(group))
        n_test = int(round(len(group) * test_fraction))
        n_test = min(max(n_test, 1 if len(group) > 1 else 0), len(group) - 1)
        split = np.where(np.isin(np.arange(len(group)), order[:n_test]), "test", "train")
        parts.append(group.assign(split=split))
    return pd.concat(parts, ignore_index=True)


def split_listing(
    readable: pd.DataFrame,
    ingest_quarantine: pd.DataFrame,
    ingest: dict[str, Any],
    cells: bool = False,
) -> pd.DataFrame:
    """Every listed labelled tile with its ``split``: ``readable`` (the tile index's rows: id,
    path, label, folder, ...) and the tiles ingest quarantined (id null, state
    ``quarantined_ingest``; cells the land cover left unlabelled are not tiles of either split),
    split by the folder they were listed from (``ingest.test_fraction`` null) or by a seeded
    per-class split of all of them; the ``cells`` of a labelled raster set by spatial blocks
    (``ingest.land_cover``: ``split_block_cells``, ``test_block_share``). The train pipeline
    and the finetune pipeline both call this, so a tile tested on was never fine-tuned on."""
    stage = ingest_quarantine.get("stage", pd.Series(dtype=object))
    unreadable = ingest_quarantine[stage.reindex(ingest_quarantine.index) != UNLABELLED_STAGE]
    unreadable = unreadable[["path", "label", "split"]].rename(columns={"split": "folder"})
    unreadable = unreadable.assign(id=None, state="quarantined_ingest")
    tiles = pd.concat([readable, unreadable], ignore_index=True)
    seed = int(ingest["seed"])
    if cells:
        rule = ingest["land_cover"]
        return tiles.assign(
            split=block_split(
                tiles["path"], int(rule["split_block_cells"]), float(rule["test_block_share"]), seed
            )
        )
    if ingest["test_fraction"] is None:
        return tiles.assign(split=tiles["folder"])
    return stratified_split(tiles, float(ingest["test_fraction"]), seed)


def block_split(cells: pd.Series, block_cells: int, test_share: float, seed: int) -> list[str]:
    """train or test for each cell id, by its spatial block (``cell_grid.split_of``)."""
    return [split_of(*cell_position(str(cell)), block_cells, test_share, seed) for cell in cells]


def mark_sample(
    listing: pd.DataFrame, sample_frac: float, seed: int, by: list[str] | None
) -> pd.Series:
    """A seeded ``sample_frac`` of the rows (per ``by`` group, at least one each), as a boolean
    Series aligned with ``listing``."""
    if not 0.0 < sample_frac <= 1.0:
        raise ValueError(f"sample_frac must be in (0, 1], got {sample_frac}.")
    keep = pd.Series(sample_frac == 1.0, index=listing.index)
    if sample_frac == 1.0 or listing.empty:
        return keep
    ordered = listing.sort_values("path")
    rng = np.random.default_rng(seed)
    groups = ordered.groupby(by, sort=True).groups if by else {"all": ordered.index}
    for rows in groups.values():
        n = max(1, int(round(len(rows) * sample_frac)))
        keep[rng.choice(np.asarray(rows), size=n, replace=False)] = True
    return keep


def calibration_sample(paths: list[str], pretrained: dict[str, Any]) -> list[str]:
    """The tiles an int8 network's activation ranges are calibrated on: a seeded sample of
    ``pretrained.calibration_tiles`` of ``paths`` (all of them when fewer), whatever their order."""
    ordered = pd.Series(sorted(paths), dtype=object)
    count = min(int(pretrained["calibration_tiles"]), len(ordered))
    return list(ordered.sample(n=count, random_state=int(pretrained["seed"])))
