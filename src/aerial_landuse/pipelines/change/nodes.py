"""Change nodes: two scored regions (years) joined tile by tile, from -> to transitions in tiles
and km^2, area statistics per class, change measured against known truth where there is one,
and the changed tiles a person should look at first.

Predictions of a region are small (one row per tile: 67k rows for Middlesex County), so these
nodes work on pandas frames that the catalog reads from the score pipeline's Parquet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, select_autoescape
from markupsafe import Markup
from PIL import Image
from scipy.spatial import cKDTree

from aerial_landuse.core.contracts import BOUND_COLUMNS, PROBABILITY_PREFIX, classes_of, true_labels
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.geometry.cell_grid import CellGrid, common_grid
from aerial_landuse.core.geometry.footprints import (
    centres_in_metres,
    feature_collection,
    geodataframe,
    tile_area_km2,
)
from aerial_landuse.core.tiles.cog import CogLayer, change_layer
from aerial_landuse.core.tiles.raster_region import RasterRegion, cell_position
from aerial_landuse.reporting.embedded import embedded_figures
from aerial_landuse.reporting.figure import Figure
from aerial_landuse.reporting.maps import class_colours, interactive_map, qgis_style
from aerial_landuse.reporting.numbers import signed
from aerial_landuse.storage import TileFolder
from aerial_landuse.storage.raster_region import region_images

from .figures import (
    DEVELOPED,
    OUTLINE,
    UNCERTAIN,
    UNCHANGED,
    area_figure,
    became,
    category_colours,
    change_categories,
    change_colours,
    change_map_figure,
    review_sheet_figure,
    threshold_figure,
    transition_figure,
)

logger = logging.getLogger(__name__)

SIDES = ("before", "after")


def _label_columns(predictions: pd.DataFrame, kind: str) -> tuple[str, str, str]:
    """(label, confidence, probability prefix) columns of the chosen kind: smoothed or raw."""
    if kind == "smoothed" and "smoothed_label" in predictions.columns:
        return "smoothed_label", "smoothed_confidence", "smoothed_" + PROBABILITY_PREFIX
    return "pred_label", "confidence", PROBABILITY_PREFIX


def _check_predictions(predictions: pd.DataFrame, region: str) -> None:
    if predictions is None or not len(predictions):
        raise UserInputError(
            f"No predictions for region {region!r}: score it first with "
            f"`kedro run --pipelines=score --params region={region}`."
        )


def _side(predictions: pd.DataFrame, side: str, kind: str) -> pd.DataFrame:
    """One year's tiles with columns prefixed by ``side``: label, confidence (chosen kind),
    raw label and confidence, probabilities per class (chosen kind)."""
    label, confidence, prefix = _label_columns(predictions, kind)
    frame = pd.DataFrame(
        {
            "id": predictions["id"],
            "filename": predictions["filename"],
            "filepath": predictions["filepath"],
            "label": predictions[label],
            "confidence": predictions[confidence],
            "raw_label": predictions["pred_label"],
            "raw_confidence": predictions["confidence"],
            **{f"prob_{c}": predictions[prefix + c] for c in classes_of(predictions)},
        }
    ).add_prefix(f"{side}_")
    return pd.concat([frame, predictions[BOUND_COLUMNS]], axis=1)


def match_tiles(
    before: pd.DataFrame,
    after: pd.DataFrame,
    params: dict[str, Any],
    before_region: dict[str, Any] | None = None,
    after_region: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(matched pairs, tiles present in one year only, counts). Tiles match on their bounds (the
    same place: centres within ``max_offset_m``, one to one) or on their file name; the cells of
    two raster regions on one grid match exactly, by cell id."""
    for predictions, side in ((before, "before"), (after, "after")):
        _check_predictions(predictions, params[side])
    kind = params["labels"]
    b, a = _side(before, "before", kind), _side(after, "after", kind)
    match_on = params["match_on"]
    if _change_grid(before_region, after_region, params) is not None:
        match_on = "cell id"
        pairs_index = _match_on_column(b, a, "id")
    elif match_on == "filename":
        pairs_index = _match_on_column(b, a, "filename")
    else:
        pairs_index = _match_on_bounds(b, a, float(params["max_offset_m"]))
    bi, ai = pairs_index
    pairs = pd.concat(
        [
            b.iloc[bi].drop(columns=BOUND_COLUMNS).reset_index(drop=True),
            a.iloc[ai].reset_index(drop=True),
        ],
        axis=1,
    )
    pairs = _with_change(pairs, float(params["min_confidence"]))
    unmatched = _unmatched(before, after, bi, ai, params)
    counts = {
        "match_on": match_on,
        "matched": len(pairs),
        "only_before": int((unmatched["year"] == "before").sum()),
        "only_after": int((unmatched["year"] == "after").sum()),
        "before_tiles": len(before),
        "after_tiles": len(after),
    }
    logger.info(
        "Matched %d tiles of %s and %s on %s; %d only in %s, %d only in %s",
        counts["matched"],
        params["before"],
        params["after"],
        match_on,
        counts["only_before"],
        params["before"],
        counts["only_after"],
        params["after"],
    )
    return pairs, unmatched, counts


def _change_grid(
    before: dict[str, Any] | None, after: dict[str, Any] | None, params: dict[str, Any]
) -> CellGrid | None:
    """The grid both years' cells lie on, when both regions are raster regions (else None)."""
    first, second = RasterRegion.from_record(before), RasterRegion.from_record(after)
    if first is None or second is None:
        return None
    return common_grid(first.grid, second.grid, (params["before"], params["after"]))


def _match_on_column(
    b: pd.DataFrame, a: pd.DataFrame, column: str
) -> tuple[np.ndarray, np.ndarray]:
    index = pd.Series(np.arange(len(a)), index=a[f"after_{column}"].to_numpy())
    index = index[~index.index.duplicated()]
    found = b[f"before_{column}"].map(index)
    keep = found.notna().to_numpy()
    return np.flatnonzero(keep), found[keep].astype(int).to_numpy()


def _has_bounds(frame: pd.DataFrame) -> np.ndarray:
    return np.isfinite(frame[BOUND_COLUMNS].to_numpy(float)).all(axis=1)


def _match_on_bounds(
    b: pd.DataFrame, a: pd.DataFrame, max_offset_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mutually nearest tile centres no more than ``max_offset_m`` apart."""
    b_ok, a_ok = np.flatnonzero(_has_bounds(b)), np.flatnonzero(_has_bounds(a))
    if not len(b_ok) or not len(a_ok):
        return np.array([], int), np.array([], int)
    origin = float(np.nanmean(a["llcrnrlat"].to_numpy(float)))
    bc = centres_in_metres(b.iloc[b_ok], origin)
    ac = centres_in_metres(a.iloc[a_ok], origin)
    b_dist, b_near = cKDTree(ac).query(bc, distance_upper_bound=max_offset_m)
    _, a_near = cKDTree(bc).query(ac, distance_upper_bound=max_offset_m)
    mutual = np.isfinite(b_dist)
    mutual[mutual] = a_near[b_near[mutual]] == np.flatnonzero(mutual)
    return b_ok[mutual], a_ok[b_near[mutual]]


def _with_change(pairs: pd.DataFrame, min_confidence: float) -> pd.DataFrame:
    """Pairs with their area and whether they changed, confidently, and became Developed."""
    least = np.minimum(pairs["before_confidence"], pairs["after_confidence"])
    changed = pairs["before_label"] != pairs["after_label"]
    confident = least >= min_confidence
    return pairs.assign(
        area_km2=tile_area_km2(pairs),
        least_confidence=least,
        changed=changed,
        confident=confident,
        counted_change=changed & confident,
        became_developed=changed & confident & (pairs["after_label"] == DEVELOPED),
    )


def _unmatched(
    before: pd.DataFrame,
    after: pd.DataFrame,
    bi: np.ndarray,
    ai: np.ndarray,
    params: dict[str, Any],
) -> pd.DataFrame:
    rows = []
    for predictions, used, side in ((before, bi, "before"), (after, ai, "after")):
        other = params["after" if side == "before" else "before"]
        alone = np.setdiff1d(np.arange(len(predictions)), used)
        no_bounds = ~_has_bounds(predictions)
        for i in alone:
            reason = (
                "no bounds in tile_summaries.csv"
                if params["match_on"] == "bounds" and no_bounds[i]
                else f"no tile at this place in {other}"
            )
            row = predictions.iloc[i]
            rows.append(
                {
                    "year": side,
                    "region": params[side],
                    "filename": row["filename"],
                    "filepath": row["filepath"],
                    **{c: row[c] for c in BOUND_COLUMNS},
                    "reason": reason,
                }
            )
    columns = ["year", "region", "filename", "filepath", *BOUND_COLUMNS, "reason"]
    return pd.DataFrame(rows, columns=columns)


def change_rasters(
    pairs: pd.DataFrame,
    before_region: dict[str, Any] | None,
    after_region: dict[str, Any] | None,
    params: dict[str, Any],
) -> dict[str, CogLayer]:
    """Two raster regions' change as a COG of one pixel per cell on their grid (``change``):
    from -> to codes where a change counted or nothing changed, one code for a change that is
    not confident, the change map's colours. Nothing for regions of tiles."""
    grid = _change_grid(before_region, after_region, params)
    if grid is None or not len(pairs):
        return {}
    classes = sorted(set(pairs["before_label"]) | set(pairs["after_label"]))
    cells = [
        (*cell_position(cell), before, after, bool(counted))
        for cell, before, after, counted in zip(
            pairs["after_id"], pairs["before_label"], pairs["after_label"],
            pairs["counted_change"], strict=True,
        )
    ]  # fmt: skip
    layer = change_layer(grid, cells, classes, class_colours(classes), UNCERTAIN, UNCHANGED)
    return {"change": layer}


def transition_tables(pairs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From (rows) -> to (columns) over the tiles classified confidently in both years: tile
    counts and km^2. The diagonal is what stayed; the rest is change."""
    confident = pairs[pairs["confident"]]
    classes = sorted(set(pairs["before_label"]) | set(pairs["after_label"]))
    tiles = pd.crosstab(confident["before_label"], confident["after_label"])
    km2 = pd.crosstab(
        confident["before_label"],
        confident["after_label"],
        values=confident["area_km2"],
        aggfunc="sum",
    )
    shaped = [
        t.reindex(index=classes, columns=classes).fillna(0).rename_axis(index="from", columns=None)
        for t in (tiles, km2)
    ]
    return shaped[0].astype(int).reset_index(), shaped[1].round(4).reset_index()


def area_statistics(
    before: pd.DataFrame, after: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Per class: km^2 and share of each region (all its scored tiles with bounds), and their
    change (km^2 and percentage points)."""
    kind = params["labels"]
    tables = []
    for predictions, side in ((before, "before"), (after, "after")):
        label, *_ = _label_columns(predictions, kind)
        area = pd.Series(tile_area_km2(predictions), index=predictions.index)
        by_class = area.groupby(predictions[label]).sum(min_count=1).fillna(0)
        tables.append(
            pd.DataFrame(
                {
                    f"{side}_km2": by_class,
                    f"{side}_share": by_class / by_class.sum() if by_class.sum() else by_class,
                }
            )
        )
    table = pd.concat(tables, axis=1).fillna(0).rename_axis("class").sort_index()
    table["change_km2"] = table["after_km2"] - table["before_km2"]
    table["change_share_points"] = 100 * (table["after_share"] - table["before_share"])
    return table.round(4).reset_index()


def change_summary(
    pairs: pd.DataFrame, counts: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """The headline numbers: how much changed, how much became Developed, how much is uncertain."""
    counted = pairs[pairs["counted_change"]]
    developed = pairs[pairs["became_developed"]]
    uncertain = pairs[pairs["changed"] & ~pairs["confident"]]
    return {
        "before": params["before"],
        "after": params["after"],
        "labels": params["labels"],
        "min_confidence": float(params["min_confidence"]),
        "match_on": params["match_on"],
        **counts,
        "matched_km2": round(float(pairs["area_km2"].sum()), 4),
        "changed_tiles": len(counted),
        "changed_km2": round(float(counted["area_km2"].sum()), 4),
        "became_developed_tiles": len(developed),
        "became_developed_km2": round(float(developed["area_km2"].sum()), 4),
        "uncertain_tiles": len(uncertain),
        "uncertain_km2": round(float(uncertain["area_km2"].sum()), 4),
    }


def _precision_recall(detected: pd.Series, truth: pd.Series) -> dict[str, float | int]:
    hits = int((detected & truth).sum())
    precision = hits / int(detected.sum()) if detected.sum() else float("nan")
    recall = hits / int(truth.sum()) if truth.sum() else float("nan")
    return {
        "detected": int(detected.sum()),
        "true_changes": int(truth.sum()),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }


def evaluate_against_truth(
    pairs: pd.DataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    before_summaries: pd.DataFrame | None,
    after_summaries: pd.DataFrame | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Where both regions' tile_summaries.csv know each tile's true class (the demo regions):
    accuracy raw vs smoothed per year, and precision / recall of detected change raw vs
    smoothed, at the configured threshold and over a sweep of thresholds. Empty otherwise."""
    truth_before, truth_after = true_labels(before_summaries), true_labels(after_summaries)
    if truth_before is None or truth_after is None:
        return {}
    accuracy = {}
    for side, predictions, truth in (
        ("before", before, truth_before),
        ("after", after, truth_after),
    ):
        known = predictions["filename"].map(truth)
        ok = known.notna()
        accuracy[side] = {
            kind: round(float((predictions.loc[ok, column] == known[ok]).mean()), 4)
            for kind, column in (("raw", "pred_label"), ("smoothed", "smoothed_label"))
            if column in predictions.columns and ok.any()
        }
    from_truth = pairs["before_filename"].map(truth_before)
    to_truth = pairs["after_filename"].map(truth_after)
    known = from_truth.notna() & to_truth.notna()
    true_change = (from_truth != to_truth)[known]
    sweep = []
    for threshold in params["threshold_sweep"]:
        row = {"min_confidence": threshold}
        for kind in ("raw", "smoothed"):
            detected = _detected(pairs, before, after, kind, threshold)[known]
            scores = _precision_recall(detected, true_change)
            row.update({f"{kind}_{k}": v for k, v in scores.items() if k != "true_changes"})
        sweep.append(row)
    threshold = float(params["min_confidence"])
    return {
        "accuracy": accuracy,
        "true_changes": int(true_change.sum()),
        "tiles_with_truth": int(known.sum()),
        "change": {
            kind: _precision_recall(
                _detected(pairs, before, after, kind, threshold)[known], true_change
            )
            for kind in ("raw", "smoothed")
        },
        "threshold_sweep": sweep,
    }


def _detected(
    pairs: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame, kind: str, threshold: float
) -> pd.Series:
    """Counted change with raw or smoothed labels (their own confidences) at ``threshold``."""
    columns = {}
    for side, predictions in (("before", before), ("after", after)):
        label, confidence, _ = _label_columns(predictions, kind)
        lookup = predictions.drop_duplicates("filename").set_index("filename")
        names = pairs[f"{side}_filename"]
        columns[side] = (names.map(lookup[label]), names.map(lookup[confidence]))
    (bl, bc), (al, ac) = columns["before"], columns["after"]
    return (bl != al) & (np.minimum(bc, ac) >= threshold)


def review_changes(pairs: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """The changed tiles (labels differ) a labeller should look at first: least confident first."""
    changed = pairs[pairs["changed"]].sort_values("least_confidence")
    columns = [
        "before_id",
        "after_id",
        "before_filename",
        "after_filename",
        "before_filepath",
        "after_filepath",
        "before_label",
        "before_confidence",
        "after_label",
        "after_confidence",
        "least_confidence",
        "counted_change",
        *BOUND_COLUMNS,
    ]
    return changed.head(int(params["review_tiles"]))[columns].reset_index(drop=True)


def changed_tiles_geojson(pairs: pd.DataFrame) -> dict[str, Any]:
    """The counted changes as GeoJSON: both years' classes, confidences and probabilities."""
    layer = _layer_columns(pairs)
    return feature_collection(layer[pairs["counted_change"]], _change_properties(pairs))


def change_geopackage(pairs: pd.DataFrame) -> Any:
    """Every matched tile with both years' classes and whether it changed (GeoPackage layer)."""
    return geodataframe(
        _layer_columns(pairs).assign(
            changed=pairs["changed"].astype(int),
            counted_change=pairs["counted_change"].astype(int),
            became_developed=pairs["became_developed"].astype(int),
        ),
        [*_change_properties(pairs), "changed", "counted_change", "became_developed"],
    )


def change_style(pairs: pd.DataFrame) -> tuple[str, str]:
    """QGIS style of both change layers (``change.qml``, ``changed_tiles.qml``), as the change
    map draws them: ``change`` in the new class's colour, grey where the change is not confident,
    light grey where nothing changed, the tiles that became Developed outlined."""
    classes = sorted(set(pairs["before_label"]) | set(pairs["after_label"]))
    colours = category_colours(classes)
    style = qgis_style(list(colours), "change", colours=colours, outlined=[became(DEVELOPED)])
    return style, style


def _layer_columns(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs with what the GIS layers add: the change category, the area in m² (a tile's
    area to the m² in files that keep 3 decimals)."""
    return pairs.assign(change=change_categories(pairs), area_m2=pairs["area_km2"] * 1e6)


def _change_properties(pairs: pd.DataFrame) -> list[str]:
    probabilities = [c for c in pairs.columns if "_prob_" in c]
    return [
        "change",
        "before_filename",
        "after_filename",
        "before_label",
        "after_label",
        "before_confidence",
        "after_confidence",
        "area_m2",
        *probabilities,
    ]


def draw_change_figures(
    pairs: pd.DataFrame,
    transitions_tiles: pd.DataFrame,
    transitions_km2: pd.DataFrame,
    area: pd.DataFrame,
    evaluation: dict[str, Any],
    review: pd.DataFrame,
    before_tiles: TileFolder,
    after_tiles: TileFolder,
    params: dict[str, Any],
    before_region: dict[str, Any] | None = None,
    after_region: dict[str, Any] | None = None,
) -> dict[str, Figure]:
    """The change report's figures, keyed by file name."""
    classes = sorted(set(pairs["before_label"]) | set(pairs["after_label"]) | set(area["class"]))
    title = f"Change {params['before']} → {params['after']} (changed tiles in their new class)"
    figures = {
        "change_map.png": change_map_figure(pairs, classes, title),
        "transitions.png": transition_figure(transitions_km2, transitions_tiles),
        "area_per_class.png": area_figure(area, params["before"], params["after"]),
    }
    if evaluation.get("threshold_sweep"):  # {} where the true classes are not known
        figures["threshold.png"] = threshold_figure(
            evaluation["threshold_sweep"], float(params["min_confidence"])
        )
    if len(review):
        figures["review_sheet.png"] = review_sheet_figure(
            review,
            region_images(before_tiles, before_region, review["before_id"].astype(str).tolist()),
            region_images(after_tiles, after_region, review["after_id"].astype(str).tolist()),
        )
    return figures


def render_change_report(
    summary: dict[str, Any],
    transitions_tiles: pd.DataFrame,
    transitions_km2: pd.DataFrame,
    area: pd.DataFrame,
    evaluation: dict[str, Any],
    pairs: pd.DataFrame,
    review: pd.DataFrame,
    figures: dict[str, Callable[[], Image.Image]],
    template_text: str,
    style: str,
    params: dict[str, Any],
) -> str:
    """One self-contained HTML page: headline numbers, the change map (static and interactive),
    transitions, area statistics, the threshold and how it was chosen, truth where known, and
    the review queue."""
    classes = sorted(set(pairs["before_label"]) | set(pairs["after_label"]))
    environment = Environment(autoescape=select_autoescape(["html"]))
    environment.filters["signed"] = signed
    template = environment.from_string(template_text)
    images = embedded_figures(figures)
    tips = [
        f"{r.after_filename}: {r.before_label} {r.before_confidence:.2f} → "
        f"{r.after_label} {r.after_confidence:.2f}"
        + ("" if r.counted_change else " (not counted)" if r.changed else "")
        for r in pairs.itertuples(index=False)
    ]
    outlines = [OUTLINE if d else None for d in pairs["became_developed"]]
    return template.render(
        title=params["title"],
        style=Markup(style),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=summary,
        transitions_tiles=transitions_tiles.to_dict("records"),
        transitions_km2=transitions_km2.to_dict("records"),
        classes=list(transitions_tiles.columns[1:]),
        area=area.to_dict("records"),
        evaluation=evaluation,
        review=review.drop(columns=["before_id", "after_id"]).to_dict("records"),
        images=images,
        interactive_map=Markup(
            interactive_map(
                pairs,
                change_colours(pairs, classes),
                tips,
                "change-map",
                outlines,
                legend=category_colours(classes),
                outline_label=f"outlined: {became(DEVELOPED)}",
            )
        ),
        params=params,
    )
