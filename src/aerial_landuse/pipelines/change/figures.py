"""Figures of the change report: the change map, transitions, area per class, how the
confidence threshold trades precision for recall, and the review sheet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch
from PIL import Image

from aerial_landuse.core.tiles.images import thumbnail
from aerial_landuse.reporting.figure import Figure
from aerial_landuse.reporting.maps import class_colours, north_up, tile_polygons
from aerial_landuse.reporting.numbers import signed

UNCHANGED, UNCERTAIN, OUTLINE = "#d9d9d9", "#9e9e9e", "#000000"
DEVELOPED = "Developed"  # the class whose new tiles are outlined


NOT_CONFIDENT, STAYED = "changed, not confident in both years", "unchanged"


def became(label: str) -> str:
    return f"became {label}"


def change_categories(pairs: pd.DataFrame) -> list[str]:
    """Per pair, what the change map shows: ``became <class>`` when it counted as change, else
    whether it changed without confidence or stayed (the GIS layers' ``change`` column)."""
    return [
        became(row.after_label) if row.counted_change else NOT_CONFIDENT if row.changed else STAYED
        for row in pairs.itertuples(index=False)
    ]


def category_colours(classes: Sequence[str]) -> dict[str, str]:
    """Each change category's colour: the new class's colour, mid grey for a change that is not
    confident, light grey for no change."""
    colours = {became(c): colour for c, colour in class_colours(classes).items()}
    return {**colours, NOT_CONFIDENT: UNCERTAIN, STAYED: UNCHANGED}


def change_colours(pairs: pd.DataFrame, classes: Sequence[str]) -> list[str]:
    """Per pair: the colour of its change category."""
    colours = category_colours(classes)
    return [colours[category] for category in change_categories(pairs)]


def change_map_figure(pairs: pd.DataFrame, classes: Sequence[str], title: str) -> Figure:
    """Left: changed tiles in their new class, Developed ones outlined; right: the later year's
    land use with the tiles that became Developed outlined. Each panel has its own legend."""
    colours = class_colours(classes)
    polygons = tile_polygons(pairs)
    developed = pairs["became_developed"].to_numpy()
    fig = Figure(figsize=(14, 6.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.add_collection(PolyCollection(polygons, facecolors=change_colours(pairs, classes)))
    right.add_collection(
        PolyCollection(polygons, facecolors=[colours[c] for c in pairs["after_label"]])
    )
    for ax in (left, right):
        outlined = [p for p, d in zip(polygons, developed, strict=True) if d]
        ax.add_collection(
            PolyCollection(outlined, facecolors="none", edgecolors=OUTLINE, linewidths=1.4)
        )
        north_up(ax, pairs)
    left.set_title(title)
    right.set_title("Land use in the later year; outlined: became Developed")
    _legend_below(left, _change_handles(classes))
    land_use = [Patch(color=colours[c], label=c) for c in classes]
    outline = Patch(facecolor="none", edgecolor=OUTLINE, linewidth=1.4, label=became(DEVELOPED))
    _legend_below(right, [*land_use, outline])
    return fig


def _change_handles(classes: Sequence[str]) -> list[Patch]:
    """What the change panel's colours mean (tiles that became Developed are also outlined)."""
    return [
        Patch(facecolor=colour, edgecolor=OUTLINE, linewidth=1.4, label=category)
        if category == became(DEVELOPED)
        else Patch(color=colour, label=category)
        for category, colour in category_colours(classes).items()
    ]


def _legend_below(ax: Any, handles: list[Patch]) -> None:
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncols=3, frameon=False
    )


def transition_figure(km2: pd.DataFrame, tiles: pd.DataFrame) -> Figure:
    """From -> to matrix in km^2 (colour) with tile counts, change off the diagonal."""
    labels = list(km2["from"])
    values = km2.set_index("from")[labels].to_numpy(float)
    counts = tiles.set_index("from")[labels].to_numpy(int)
    fig = Figure(figsize=(0.9 * len(labels) + 2.5, 0.75 * len(labels) + 1.8), layout="constrained")
    ax = fig.subplots()
    shown = ax.imshow(np.log1p(values), cmap="Blues")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{values[i, j]:.2f}\n({counts[i, j]})",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if shown.norm(np.log1p(values[i, j])) > 0.6 else "black",
            )
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="to (later year)", ylabel="from (earlier year)")
    ax.set_title("Transitions, km² (tiles); confident in both years")
    return fig


def area_figure(area: pd.DataFrame, before: str, after: str) -> Figure:
    """km^2 per class in each year, with the change written beside the bars."""
    classes = list(area["class"])
    y = np.arange(len(classes))
    fig = Figure(figsize=(9, 0.6 * len(classes) + 2), layout="constrained")
    ax = fig.subplots()
    ax.barh(y - 0.2, area["before_km2"], 0.4, label=before, color="#9ecae1")
    ax.barh(y + 0.2, area["after_km2"], 0.4, label=after, color="#08519c")
    for i, row in enumerate(area.itertuples(index=False)):
        ax.text(
            max(row.before_km2, row.after_km2),
            i,
            f"  {signed(row.change_km2)} km²",
            va="center",
            fontsize=9,
        )
    ax.set_yticks(y, classes)
    ax.invert_yaxis()
    ax.set_xlabel("area (km²)")
    ax.set_title("Area per class")
    ax.legend(loc="best")
    ax.margins(x=0.2)
    return fig


def threshold_figure(sweep: list[dict[str, Any]], chosen: float) -> Figure:
    """Precision and recall of detected change against the known truth, by threshold."""
    frame = pd.DataFrame(sweep)
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    for kind, style in (("raw", "--"), ("smoothed", "-")):
        for metric, colour in (("precision", "#1f77b4"), ("recall", "#d62728")):
            ax.plot(
                frame["min_confidence"],
                frame[f"{kind}_{metric}"],
                style,
                color=colour,
                marker="o",
                label=f"{metric} ({kind})",
            )
    ax.axvline(chosen, color="grey", linestyle=":", label=f"min_confidence = {chosen:g}")
    ax.set(xlabel="min_confidence (both years)", ylabel="share", ylim=(0, 1.02))
    ax.set_title("Detected change against the known changes")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return fig


def review_sheet_figure(
    review: pd.DataFrame,
    before_images: dict[str, Callable[[], Image.Image]],
    after_images: dict[str, Callable[[], Image.Image]],
    columns: int = 4,
    size: int = 128,
) -> Figure:
    """Each changed tile to review as earlier | later thumbnails, with both classes and
    confidences, least confident first."""
    rows = max(1, -(-len(review) // columns))
    fig = Figure(figsize=(3.6 * columns, 2.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, row in zip(axes.ravel(), review.itertuples(index=False), strict=False):
        pair = np.hstack(
            [
                thumbnail(before_images[row.before_id](), size),
                np.full((size, 4, 3), 255, np.uint8),
                thumbnail(after_images[row.after_id](), size),
            ]
        )
        ax.imshow(pair)
        ax.set_title(
            f"{row.before_label} {row.before_confidence:.2f} → "
            f"{row.after_label} {row.after_confidence:.2f}",
            fontsize=8,
            color="black" if row.counted_change else "#7f7f7f",
        )
    fig.suptitle("Changed tiles to review, least confident first (earlier | later)")
    return fig
