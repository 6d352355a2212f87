"""The usable-share rule: a tile set whose unreadable share passes ``max_quarantined_share`` (or
with no readable tile) stops the run, since then the folder is wrong, not a few of its tiles."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from aerial_landuse.core.errors import UserInputError


class UnusableTilesError(UserInputError):
    """Too many tiles of a split could not be read: the run stops, naming the folder and why."""


def check_usable(
    split: str,
    counts: tuple[int, int, int],
    paths: Sequence[str],
    reasons: pd.Series,
    limit: float,
) -> None:
    """Raise ``UnusableTilesError`` when, of ``counts`` (bad, good, total) tiles of ``split``
    (in the folder that holds ``paths``), the bad pass ``limit`` of the total or no tile is
    good; ``reasons``: the bad tiles' quarantine reasons."""
    bad, good, total = counts
    if not total or (good and bad <= limit * total):
        return
    where = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else "?"
    shown = "; ".join(f"{n} x {str(r)[:160]}" for r, n in reasons.value_counts().head(3).items())
    raise UnusableTilesError(
        f"{bad} of {total} {split} tiles under {where} could not be read "
        f"(limit: {limit:.0%}, ingest.max_quarantined_share). First reasons: {shown}. "
        + (
            "Spark's executors open every tile themselves: on a cluster, tiles must be on "
            "storage they can reach (a blob container, not the driver's disk)."
            if "FileNotFoundError" in shown
            else "Check the folder and its files, or raise the limit if this is expected."
        )
    )
