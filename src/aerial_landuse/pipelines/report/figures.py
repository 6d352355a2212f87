"""Matplotlib figures for the report: metrics, land-use map, tile gallery.

Built as ``Figure`` objects, not through pyplot: no backend is forced on the caller (a notebook
keeps its inline backend and shows them), and nothing accumulates in pyplot's figure registry.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch

from aerial_landuse.core.tiles.raster_cells import QuickLook
from aerial_landuse.core.tiles.raster_region import cell_position
from aerial_landuse.reporting.figure import Figure
from aerial_landuse.reporting.maps import class_colours, north_up, tile_polygons


def confusion_figure(metrics: dict) -> Figure:
    """Row-normalised confusion matrix (recall on the diagonal) annotated with counts."""
    cm = metrics["confusion_matrix"]
    labels, counts = cm["labels"], np.asarray(cm["counts"], dtype=float)
    share = np.divide(
        counts,
        counts.sum(axis=1, keepdims=True),
        out=np.zeros_like(counts),
        where=counts.sum(axis=1, keepdims=True) > 0,
    )
    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{int(counts[i, j])}",
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.5 else "black",
                fontsize=9,
            )
    ax.set(
        xticks=range(len(labels)),
        yticks=range(len(labels)),
        xlabel="Predicted label",
        ylabel="True label",
    )
    ax.set_xticklabels(labels, rotation=35, ha="right")
    ax.set_yticklabels(labels)
    ax.set_title(f"Confusion matrix (accuracy {metrics['accuracy']:.1%}, n={metrics['n_test']})")
    fig.colorbar(image, ax=ax, label="share of true class (recall on diagonal)")
    return fig


def class_metrics_figure(metrics: dict) -> Figure:
    """Precision, recall and F1 per class, side by side; the legend above the bars' highest
    possible value (1.0), so it never covers one."""
    per_class = metrics["per_class"]
    labels = list(per_class)
    x = np.arange(len(labels))
    fig = Figure(figsize=(7.5, 4), layout="constrained")
    ax = fig.subplots()
    for k, (name, colour) in enumerate(
        (("precision", "#4c78a8"), ("recall", "#f58518"), ("f1", "#54a24b"))
    ):
        ax.bar(
            x + (k - 1) * 0.27, [per_class[c][name] for c in labels], 0.27, label=name, color=colour
        )
    ax.set(
        xticks=x,
        ylim=(0, 1.2),
        yticks=np.linspace(0, 1, 6),
        ylabel="score",
        title=f"Per-class metrics (macro F1 {metrics['macro_f1']:.3f})",
    )
    ax.set_xticklabels([f"{c}\n(n={per_class[c]['support']})" for c in labels])
    ax.legend(ncols=3, loc="upper center", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def land_use_map_figure(predictions: pd.DataFrame, labels: Sequence[str], title: str) -> Figure:
    """Each scored tile drawn at its bounds in its class colour, beside a confidence map."""
    colours = class_colours(labels)
    polygons = tile_polygons(predictions)
    fig = Figure(figsize=(13, 6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.add_collection(
        PolyCollection(
            polygons, facecolors=[colours[p] for p in predictions["pred_label"]], edgecolors="none"
        )
    )
    north_up(left, predictions)
    counts = predictions["pred_label"].value_counts()
    fig.legend(  # outside the maps, below them: never over a tile however wide or tall the region
        handles=[Patch(color=colours[c], label=f"{c} ({counts.get(c, 0)})") for c in labels],
        loc="outside lower center",
        ncols=min(len(labels), 6),
        frameon=False,
    )
    left.set_title(title)
    confidence = PolyCollection(
        polygons,
        array=predictions["confidence"].to_numpy(),
        cmap="magma",
        clim=(0, 1),
        edgecolors="none",
    )
    right.add_collection(confidence)
    north_up(right, predictions)
    right.set_title("Confidence (probability of the predicted class)")
    fig.colorbar(confidence, ax=right, shrink=0.8)
    return fig


def imagery_map_figure(look: QuickLook, predictions: pd.DataFrame, labels: Sequence[str]) -> Figure:
    """A raster region's imagery (a quick-look on its grid) beside the predicted classes drawn
    over it, half transparent, in the grid's CRS (kilometres)."""
    from matplotlib.colors import ListedColormap

    grid = look.grid

    codes = np.full((grid.rows, grid.cols), -1)
    index = {label: i for i, label in enumerate(labels)}
    for cell, label in zip(predictions["id"], predictions["pred_label"], strict=True):
        col, row = cell_position(str(cell))
        codes[grid.row_max - row, col - grid.col_min] = index[label]
    per_pixel = np.repeat(np.repeat(codes, look.cell_px, 0), look.cell_px, 1)
    imagery = np.where(look.valid[..., None], look.pixels, 255)
    colours = class_colours(labels)
    km = grid.cell_size / 1000
    extent = (
        grid.col_min * km,
        (grid.col_max + 1) * km,
        grid.row_min * km,
        (grid.row_max + 1) * km,
    )
    height = min(6.0, 6.2 * grid.rows / grid.cols) + 1.4  # two maps side by side, the legend
    fig = Figure(figsize=(13, height), layout="constrained")
    titles = ("Imagery", "Predicted land use over the imagery")
    for ax, title in zip(fig.subplots(1, 2), titles, strict=True):
        ax.imshow(imagery, extent=extent, interpolation="nearest")
        ax.set(title=title, xlabel=f"easting (km, {grid.crs})", ylabel="northing (km)")
        ax.ticklabel_format(useOffset=False, style="plain")  # whole kilometres, no "+4.7e3"
    ax.imshow(
        np.ma.masked_less(per_pixel, 0),
        cmap=ListedColormap([colours[label] for label in labels]),
        vmin=-0.5,
        vmax=len(labels) - 0.5,
        alpha=0.5,
        extent=extent,
        interpolation="nearest",
    )
    counts = predictions["pred_label"].value_counts()
    fig.legend(
        handles=[Patch(color=colours[c], label=f"{c} ({counts.get(c, 0)})") for c in labels],
        loc="outside lower center",
        ncols=min(len(labels), 6),
        frameon=False,
    )
    return fig


VERDICT_COLOURS = {True: "#2ca02c", False: "#d62728"}


def gallery_figure(
    samples: dict[str, list[tuple]],
    per_class: int,
    title: str = "Sample tiles per predicted class",
) -> Figure:
    """A row of sample tiles per class: (caption, pixels) or (caption, pixels, right) where
    ``right`` frames the tile green (right) or red (wrong)."""
    labels = list(samples)
    fig = Figure(figsize=(1.9 * per_class, 2.0 * len(labels)), layout="constrained")
    axes = fig.subplots(len(labels), per_class, squeeze=False)
    for row, label in enumerate(labels):
        for col in range(per_class):
            ax = axes[row][col]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(samples[label]):
                name, pixels, *verdict = samples[label][col]
                ax.imshow(pixels)
                ax.set_title(name, fontsize=7)
                if verdict:
                    for spine in ax.spines.values():
                        spine.set(visible=True, color=VERDICT_COLOURS[verdict[0]], linewidth=3)
        axes[row][0].text(
            -0.08,
            0.5,
            label,
            transform=axes[row][0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=11,
        )
    fig.suptitle(title)
    return fig
