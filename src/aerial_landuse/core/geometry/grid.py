"""Tiles as cells of their region's grid (from their bounds), and class probabilities smoothed
over each tile's neighbourhood on that grid: land use comes in patches, so a lone tile whose
neighbours all say Forest is more likely Forest than its own noisy prediction says."""

from __future__ import annotations

import math
from typing import Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

Weights = Literal["gaussian", "uniform"]
SMOOTHED_PREFIX = "smoothed_"


def neighbourhood(radius: int, weights: Weights, sigma: float) -> list[tuple[int, int, float]]:
    """(row offset, column offset, weight) of each cell within ``radius`` cells (a square)."""

    def weight(dr: int, dc: int) -> float:
        if weights == "uniform":
            return 1.0
        return math.exp(-(dr * dr + dc * dc) / (2 * sigma * sigma))

    return [
        (dr, dc, weight(dr, dc))
        for dr in range(-radius, radius + 1)
        for dc in range(-radius, radius + 1)
    ]


def with_grid_cells(frame: DataFrame) -> DataFrame:
    """``frame`` with ``grid_row`` (0 = northmost) and ``grid_col`` (0 = westmost) from each
    tile's bounds and the median tile size (null for a tile without bounds)."""
    stats = frame.agg(
        F.max("urcrnrlat").alias("north"),
        F.min("llcrnrlon").alias("west"),
        F.percentile_approx(F.col("urcrnrlat") - F.col("llcrnrlat"), 0.5).alias("dlat"),
        F.percentile_approx(F.col("urcrnrlon") - F.col("llcrnrlon"), 0.5).alias("dlon"),
    ).first()
    if stats is None or stats["dlat"] is None or not stats["dlat"] or not stats["dlon"]:
        return frame.withColumn("grid_row", F.lit(None).cast("int")).withColumn(
            "grid_col", F.lit(None).cast("int")
        )
    return frame.withColumn(
        "grid_row",
        F.round((F.lit(stats["north"]) - F.col("urcrnrlat")) / stats["dlat"]).cast("int"),
    ).withColumn(
        "grid_col", F.round((F.col("llcrnrlon") - F.lit(stats["west"])) / stats["dlon"]).cast("int")
    )


def smooth_probabilities(
    frame: DataFrame,
    probabilities: dict[str, str],
    radius: int,
    weights: Weights = "gaussian",
    sigma: float = 1.0,
) -> DataFrame:
    """``frame`` plus ``smoothed_<probability column>`` (the weighted mean over the tile's grid
    neighbourhood, the tile included), ``smoothed_label`` (their argmax) and
    ``smoothed_confidence``. ``probabilities``: class label -> its probability column. A tile
    without bounds, or ``radius`` 0, keeps its own probabilities."""
    columns = frame.columns
    cells = with_grid_cells(frame)
    offsets = frame.sparkSession.createDataFrame(
        neighbourhood(radius, weights, sigma), "dr int, dc int, w double"
    )
    spread = (
        cells.where(F.col("grid_row").isNotNull())
        .crossJoin(F.broadcast(offsets))
        .select(
            (F.col("grid_row") + F.col("dr")).alias("target_row"),
            (F.col("grid_col") + F.col("dc")).alias("target_col"),
            "w",
            *probabilities.values(),
        )
    )
    means = spread.groupBy("target_row", "target_col").agg(
        *[
            (F.sum(F.col("w") * F.col(c)) / F.sum("w")).alias(SMOOTHED_PREFIX + c)
            for c in probabilities.values()
        ]
    )
    joined = cells.join(
        means,
        (cells["grid_row"] == means["target_row"]) & (cells["grid_col"] == means["target_col"]),
        "left",
    )
    smoothed = {
        label: F.coalesce(F.col(SMOOTHED_PREFIX + c), F.col(c))
        for label, c in probabilities.items()
    }
    return joined.select(
        *columns,
        "grid_row",
        "grid_col",
        *[
            column.alias(SMOOTHED_PREFIX + probabilities[label])
            for label, column in smoothed.items()
        ],
    ).select(
        "*",
        _argmax(smoothed).alias("smoothed_label"),
        F.greatest(*smoothed.values()).alias("smoothed_confidence"),
    )


def _argmax(scores: dict[str, Column]) -> Column:
    best = F.greatest(*scores.values())
    choice = None
    for label, score in scores.items():
        choice = (F.when if choice is None else choice.when)(score == best, F.lit(label))
    return choice
