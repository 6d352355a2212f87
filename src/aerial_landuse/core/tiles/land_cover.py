"""Labels of raster cells from a land-cover raster (NLCD, 30 m, in its own projection), the way
the scenario's training set was made: each cell takes the land-use class that covers most of it.

The land-cover raster is read by window and warped onto the cell (nearest neighbour, at
``samples`` x ``samples`` points, so each code's share of the cell is measured to 1/``samples``
of a side), its codes mapped to land-use classes by the class table. Codes the table maps to
nothing (water, wetlands) or does not list are no class. A cell is labelled only when one class
covers at least ``min_purity`` of it; every other cell gets the reason it was left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from aerial_landuse.core.geometry.cell_grid import CellGrid, RasterSource
from aerial_landuse.core.tiles.raster_cells import FileError, RasterFiles, ReadsRasterFiles
from aerial_landuse.core.tiles.raster_region import cell_position

LAND_COVER = "land_cover"  # the raster region record's key for how its cells are labelled


@dataclass(frozen=True)
class LabelRule:
    """Land-cover code -> land-use class (None: excluded, such as water and wetlands)."""

    classes: Mapping[int, str | None]
    min_purity: float = 0.5
    samples: int = 64

    def __post_init__(self) -> None:
        if not 0.0 < self.min_purity <= 1.0:
            raise ValueError(f"min_label_purity must lie in (0, 1], not {self.min_purity}")

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> LabelRule:
        """The rule of the ``ingest.land_cover`` parameters."""
        classes = {int(code): name for code, name in params["classes"].items()}
        return cls(classes, float(params["min_label_purity"]))


@dataclass(frozen=True)
class LandCoverLabels:
    """A labelled raster set's land-cover files and label rule, as its region record holds them
    (under ``LAND_COVER``), so that executors label cells from the record alone."""

    sources: tuple[RasterSource, ...]
    rule: LabelRule

    def to_record(self) -> dict[str, Any]:
        rule = self.rule
        return {
            "sources": [asdict(source) for source in self.sources],
            "classes": [[code, name] for code, name in sorted(rule.classes.items())],
            "min_label_purity": rule.min_purity,
            "samples": rule.samples,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> LandCoverLabels | None:
        """The labels of a region record (None: a region to score, tiles, or cells labelled
        from polygons at listing)."""
        if not record or "sources" not in record.get(LAND_COVER, {}):
            return None
        given = record[LAND_COVER]
        sources = tuple(RasterSource.from_record(source) for source in given["sources"])
        classes = {int(code): name for code, name in given["classes"]}
        return cls(sources, LabelRule(classes, float(given["min_label_purity"]), given["samples"]))


@dataclass(frozen=True)
class CellLabel:
    """A cell's land-use ``label`` and the share of the cell it covers (``purity``); or, with no
    label, the ``reason``."""

    label: str | None
    purity: float
    reason: str | None = None


class LandCoverLabeller(ReadsRasterFiles):
    """Labels ``grid``'s cells from the land-cover ``sources`` (use with ``with``)."""

    def __init__(
        self,
        grid: CellGrid,
        sources: list[RasterSource],
        rule: LabelRule,
        opener: Callable[..., Any] | None = None,
    ) -> None:
        self._grid, self._rule = grid, rule
        self._files = RasterFiles(sources, grid.crs, opener)

    def label(self, col: int, row: int) -> CellLabel:
        rule = self._rule
        try:
            codes, valid = self._files.warp(
                self._grid.bounds(col, row), rule.samples, (1,), "nearest"
            )
        except FileError as exc:
            return CellLabel(None, 0.0, f"unreadable land cover: {exc}")
        return label_of(codes[0][valid], rule, total=valid.size)


def label_of(codes: np.ndarray, rule: LabelRule, total: int) -> CellLabel:
    """The label of a cell whose ``total`` sample points include the land-cover ``codes``."""
    if codes.size == 0:
        return CellLabel(None, 0.0, "no land cover: the cell lies outside the land-cover raster")
    if codes.size / total < rule.min_purity:
        return CellLabel(
            None, 0.0,
            f"partly outside the land cover: it covers {codes.size / total:.0%} of the cell, "
            f"under min_label_purity {rule.min_purity:.0%}",
        )  # fmt: skip
    values, counts = np.unique(codes.astype(np.int64), return_counts=True)
    shares: dict[str | None, float] = {}
    for code, count in zip(values.tolist(), counts.tolist(), strict=True):
        name = rule.classes.get(code)
        shares[name] = shares.get(name, 0.0) + count / total
    named = {name: share for name, share in shares.items() if name is not None}
    if not named:
        top = int(values[np.argmax(counts)])
        listed = "excluded by" if top in rule.classes else "not in"
        return CellLabel(
            None, 0.0, f"no land-use class: land-cover code {top} is {listed} the class table"
        )
    return _majority(named, rule.min_purity)


def polygon_labels(
    squares: np.ndarray, polygons: np.ndarray, classes: np.ndarray, min_purity: float
) -> list[CellLabel]:
    """Each cell square's label from a labelled polygon layer (shapely geometries in the grid's
    CRS, ``classes`` their land-use classes): the class whose polygons cover most of the cell,
    when they cover at least ``min_purity`` of it; a cell no polygon touches gets the reason."""
    import shapely

    cell_area = shapely.area(squares)
    shares = {}
    for name in sorted(set(classes.tolist())):
        covered = shapely.make_valid(shapely.union_all(polygons[classes == name]))
        shapely.prepare(covered)
        shares[str(name)] = shapely.area(shapely.intersection(squares, covered)) / cell_area
    labels = []
    for i in range(len(squares)):
        named = {name: float(share[i]) for name, share in shares.items() if share[i] > 0}
        labels.append(
            _majority(named, min_purity)
            if named
            else CellLabel(
                None, 0.0, "no label polygon: the cell lies outside the labelled polygons"
            )
        )
    return labels


def _majority(shares: Mapping[str, float], min_purity: float) -> CellLabel:
    """The class with the largest share of the cell, if it covers at least ``min_purity``."""
    label, purity = max(shares.items(), key=lambda item: item[1])
    if purity < min_purity:
        return CellLabel(
            None, purity,
            f"mixed: {label} covers {purity:.0%} of the cell, under min_label_purity {min_purity:.0%}",
        )  # fmt: skip
    return CellLabel(label, purity)


def label_cells(
    frames: Iterator[pd.DataFrame],
    grid: CellGrid,
    labels: LandCoverLabels,
    opener: Callable[..., Any] | None,
    unlabelled_prefix: str,
) -> Iterator[pd.DataFrame]:
    """A Spark task's cells (listing rows, ``id`` the cell id) with their ``label``, or none and
    ``error`` = ``unlabelled_prefix`` + the reason; the land-cover files opened once per task."""
    with LandCoverLabeller(grid, list(labels.sources), labels.rule, opener) as labeller:
        for frame in frames:
            found = [labeller.label(*cell_position(cell)) for cell in frame["id"]]
            yield frame.assign(
                label=[cell.label for cell in found],
                error=[
                    None if cell.label else unlabelled_prefix + str(cell.reason) for cell in found
                ],
            )
