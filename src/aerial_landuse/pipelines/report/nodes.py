"""Report nodes: figures, GeoJSON, tile accounting and one self-contained HTML report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, select_autoescape
from markupsafe import Markup
from PIL import Image

from aerial_landuse.core.contracts import (
    BOUND_COLUMNS,
    IGNORED_COLUMNS,
    PROBABILITY_PREFIX,
    QUARANTINE_COLUMNS,
    classes_of,
    true_labels,
)
from aerial_landuse.core.geometry.footprints import feature_collection, geodataframe
from aerial_landuse.core.networks.registry import is_finetuned
from aerial_landuse.core.tiles.images import thumbnail
from aerial_landuse.core.tiles.raster_region import RasterRegion, cell_squares
from aerial_landuse.reporting.embedded import embedded_figures
from aerial_landuse.reporting.figure import Figure
from aerial_landuse.reporting.learning_curves import finetune_summary, plot_learning_curves
from aerial_landuse.reporting.maps import class_colours, interactive_map, qgis_style, tile_tip
from aerial_landuse.storage import TileFolder
from aerial_landuse.storage.raster_region import region_images, region_quick_look

from .figures import (
    class_metrics_figure,
    confusion_figure,
    gallery_figure,
    imagery_map_figure,
    land_use_map_figure,
)

logger = logging.getLogger(__name__)


def reconcile_tile_counts(
    split_summary: dict[str, Any],
    ingest_labelled: dict[str, Any],
    featurize_labelled: dict[str, Any],
    ingest_score: dict[str, Any],
    featurize_score: dict[str, Any],
) -> dict[str, Any]:
    """Per split: listed = sampled out + quarantined (ingest, featurize) + featurized (for train
    and test: used by the model), checked against what ingest and featurize counted; for a
    raster region, its grid's cells = listed + outside the imagery + outside the area."""
    accounting = {
        split: {
            "listed": row["listed"],
            "sampled_out": row["sampled_out"],
            "quarantined_ingest": row["quarantined_ingest"],
            "quarantined_featurize": row["quarantined_featurize"],
            "featurized": row["used"],
            "ignored": ingest_labelled.get(split, {}).get("ignored", 0),
        }
        for split, row in split_summary.items()
    }
    _check_labelled_totals(accounting, ingest_labelled, featurize_labelled)
    cells = _labelled_cells(ingest_labelled.get("train", {}))
    if cells and "train" in accounting:
        accounting["train"]["labelled_cells"] = cells
    for split, row in ingest_score.items():
        feat = featurize_score.get(split, {"featurized": 0, "quarantined": 0, "indexed": 0})
        entry = {
            "listed": row["listed"],
            "sampled_out": row["sampled_out"],
            "quarantined_ingest": row["quarantined"],
            "quarantined_featurize": feat["quarantined"],
            "featurized": feat["featurized"],
        }
        if row["indexed"] != feat["indexed"] or entry["listed"] != sum(
            v for k, v in entry.items() if k != "listed"
        ):
            raise RuntimeError(
                f"Tile counts do not reconcile for split {split!r}: {entry} (indexed {row['indexed']} at "
                f"ingest, {feat['indexed']} at featurize). Re-run ingest and featurize together."
            )
        accounting[split] = {**entry, "ignored": row.get("ignored", 0)}
        if "grid" in row:  # a raster region: the grid's cells that were not listed, and why
            accounting[split]["grid"] = row["grid"]
    return accounting


def _labelled_cells(ingest_train: dict[str, Any]) -> dict[str, Any] | None:
    """A labelled raster set's cells: listed = labelled (in the splits) + unlabelled, and its
    grid's cells = listed + outside the imagery (None for tile folders)."""
    if "grid" not in ingest_train:
        return None
    unlabelled = int(ingest_train.get("unlabelled", 0))
    return {
        "listed": ingest_train["listed"],
        "labelled": ingest_train["listed"] - unlabelled,
        "unlabelled": unlabelled,
        "grid": ingest_train["grid"],
    }


def _check_labelled_totals(
    accounting: dict[str, Any], ingest: dict[str, Any], featurize: dict[str, Any]
) -> None:
    """The split covers exactly the tiles that ingest listed and featurize counted (but the
    cells of a labelled raster set that the land cover gives no class: those are in no split)."""
    folders = [f for f in ingest if f in ("train", "test")]
    expected = {
        "listed": sum(ingest[f]["listed"] - ingest[f].get("unlabelled", 0) for f in folders),
        "quarantined_ingest": sum(ingest[f]["quarantined"] for f in folders),
        "quarantined_featurize": sum(featurize.get(f, {}).get("quarantined", 0) for f in folders),
        "featurized": sum(featurize.get(f, {}).get("featurized", 0) for f in folders),
    }
    split = {key: sum(row[key] for row in accounting.values()) for key in expected}  # not ignored
    split["featurized"] += sum(row["sampled_out"] for row in accounting.values())
    if split != expected:
        raise RuntimeError(
            f"Tile counts do not reconcile: the split counts {split}, ingest and featurize "
            f"{expected}. Re-run ingest, featurize and train together."
        )


def collect_quarantine(*reports: pd.DataFrame) -> pd.DataFrame:
    """All quarantined tiles, ingest and featurize, in one table."""
    frames = [r for r in reports if r is not None and len(r)]
    if not frames:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[QUARANTINE_COLUMNS]


def collect_ignored(*lists: pd.DataFrame) -> pd.DataFrame:
    """Every ignored file of the tile folders (hidden, OS files, other formats), in one table."""
    frames = [f for f in lists if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=IGNORED_COLUMNS)
    return pd.concat(frames, ignore_index=True)[IGNORED_COLUMNS]


def _gallery_samples(
    predictions: pd.DataFrame,
    tile_images: dict[str, Callable[[], Image.Image]],
    per_class: int,
    seed: int,
    truth: pd.Series | None = None,
    size: int = 160,
) -> dict[str, list[tuple]]:
    """A seeded sample of tiles per predicted class, as thumbnails (only those tiles are read),
    captioned with the confidence; where the true class is known (``truth`` by file name) also
    whether the prediction was right (framed green) or not (red, with the true class)."""
    samples: dict[str, list[tuple]] = {}
    for label, group in predictions.groupby("pred_label", sort=True):
        chosen = group.sample(n=min(per_class, len(group)), random_state=seed)
        samples[str(label)] = []
        for row in chosen.itertuples():
            pixels = thumbnail(tile_images[row.id](), size)
            caption = f"{row.filename}\np={row.confidence:.2f}"
            true_label = None if truth is None else truth.get(row.filename)
            if true_label is None or pd.isna(true_label):
                samples[str(label)].append((caption, pixels))
                continue
            right = true_label == label
            verdict = "right" if right else f"true {true_label}"
            samples[str(label)].append((f"{caption} {verdict}", pixels, bool(right)))
    return samples


def _test_gallery_samples(
    test_predictions: pd.DataFrame,
    tile_images: Mapping[str, Callable[[], Image.Image]],
    per_class: int,
    seed: int,
    size: int = 160,
) -> dict[str, list[tuple[str, np.ndarray, bool]]]:
    """Per true class, wrong predictions first, then right ones, each with the confidence."""
    samples: dict[str, list[tuple[str, np.ndarray, bool]]] = {}
    for label, group in test_predictions.groupby("label", sort=True):
        right = group["pred_label"] == group["label"]
        wrong = group[~right].sample(n=min(per_class // 2, int((~right).sum())), random_state=seed)
        chosen = pd.concat(
            [
                wrong,
                group[right].sample(
                    n=min(per_class - len(wrong), int(right.sum())), random_state=seed
                ),
            ]
        )
        samples[str(label)] = []
        for row in chosen.itertuples():
            ok = row.pred_label == row.label
            caption = f"{'right' if ok else 'as ' + str(row.pred_label)} {row.confidence:.2f}"
            pixels = thumbnail(tile_images[str(row.id)](), size)
            samples[str(label)].append((caption, pixels, bool(ok)))
    return samples


def labelled_images(
    train_tiles: TileFolder,
    test_tiles: TileFolder,
    raster_region: dict[str, Any] | None,
    ids: list[str],
) -> Mapping[str, Callable[[], Image.Image]]:
    """Labelled tiles' lazy image loaders by id (``<folder>/<relpath>``), or a labelled raster
    set's cells' by cell id."""
    if raster_region:
        return region_images(train_tiles, raster_region, ids)
    folders = {"train": train_tiles.image_loaders(), "test": test_tiles.image_loaders()}
    return {
        tile: folders[folder][relpath] for tile in ids for folder, relpath in [tile.split("/", 1)]
    }


def draw_figures(
    metrics: dict[str, Any],
    score_predictions: pd.DataFrame,
    score_tiles: TileFolder,
    test_predictions: pd.DataFrame,
    train_tiles: TileFolder,
    test_tiles: TileFolder,
    tile_summaries: pd.DataFrame | None,
    review: pd.DataFrame,
    params: dict[str, Any],
    finetune_history: dict[str, Any] | None = None,
    raster_region: dict[str, Any] | None = None,
    labelled_region: dict[str, Any] | None = None,
) -> dict[str, Figure]:
    """Confusion matrix, per-class metrics, right and wrong test tiles, fine-tuning's learning
    curves when the network was fine-tuned and, when a region was scored, its land-use map (and,
    for a raster region, the classes over a quick-look of its imagery), sample tiles per
    predicted class and the review sheet (the tiles the model is least sure
    of); keyed by file name."""
    labels = metrics["confusion_matrix"]["labels"]
    model = metrics["model"]["model_name"]
    per_class, seed = int(params["gallery_tiles_per_class"]), int(params["seed"])
    ids = test_predictions["id"].astype(str).tolist()
    images = labelled_images(train_tiles, test_tiles, labelled_region, ids)
    figures = {
        "confusion_matrix.png": confusion_figure(metrics),
        "class_metrics.png": class_metrics_figure(metrics),
        "test_gallery.png": gallery_figure(
            _test_gallery_samples(test_predictions, images, per_class, seed),
            per_class,
            "Test tiles per true class: wrong (red, predicted class) and right (green), with confidence",
        ),
    }
    if len(score_predictions):
        figures["land_use_map.png"] = land_use_map_figure(
            score_predictions, labels, f"Predicted land use ({model})"
        )
        look = region_quick_look(score_tiles, raster_region)
        if look is not None:
            figures["imagery_map.png"] = imagery_map_figure(look, score_predictions, labels)
        truth = true_labels(tile_summaries)
        figures["gallery.png"] = gallery_figure(
            _gallery_samples(
                score_predictions,
                region_images(
                    score_tiles, raster_region, score_predictions["id"].astype(str).tolist()
                ),
                per_class,
                seed,
                truth,
            ),
            per_class,
            "Scored tiles per predicted class, with confidence"
            + ("" if truth is None else ": right (green) or wrong (red, true class)"),
        )
    if len(review):
        figures["review_sheet.png"] = _review_sheet(
            review,
            region_images(score_tiles, raster_region, score_predictions["id"].astype(str).tolist()),
        )
    if _finetuned_history(metrics, finetune_history):
        figures["finetune_curves.png"] = plot_learning_curves(finetune_history)
    return figures


def _finetuned_history(metrics: dict[str, Any], history: dict[str, Any] | None) -> bool:
    """The history belongs to this model's network: it was fine-tuned (the catalog finds the
    history of the run's network, which a model chosen as ``best`` may not use)."""
    return history is not None and is_finetuned(str(metrics["model"]["pretrained_model"]))


def _review_sheet(
    review: pd.DataFrame, images: Mapping[str, Callable[[], Image.Image]], size: int = 140
) -> Figure:
    """The review queue's tiles per predicted class, least sure first, with both top classes."""
    samples: dict[str, list[tuple]] = {}
    for row in review.itertuples(index=False):
        caption = (
            f"{row.filepath.rsplit('/', 1)[-1]}\nor {row.second_label}? margin {row.margin:.2f}"
        )
        samples.setdefault(str(row.pred_label), []).append(
            (caption, thumbnail(images[row.id](), size))
        )
    return gallery_figure(
        samples,
        max(len(v) for v in samples.values()),
        "Least sure tiles (review queue): label them and add them to the training tiles",
    )


def to_geojson(score_predictions: pd.DataFrame) -> dict[str, Any]:
    """Scored tiles as a GeoJSON FeatureCollection (WGS84 lon/lat polygons) for QGIS."""
    return feature_collection(_with_bounds(score_predictions), _map_properties(score_predictions))


def land_use_layers(
    score_predictions: pd.DataFrame, raster_region: dict[str, Any] | None = None
) -> tuple[Any, str]:
    """The scored tiles as a GeoPackage layer and its QGIS style (class colours): tiles by their
    bounds in WGS84, a raster region's cells as their exact squares in the grid's CRS."""
    labels = classes_of(score_predictions)
    tiles = _with_bounds(score_predictions)
    region = RasterRegion.from_record(raster_region)
    if region is None:
        layer = geodataframe(tiles, _map_properties(tiles))
    else:
        squares = cell_squares(region.grid, tiles["id"].astype(str).tolist())
        layer = geodataframe(tiles, _map_properties(tiles), squares, region.grid.crs)
    return layer, qgis_style(labels, "pred_label")


def review_queue(score_predictions: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """The tiles the model is least sure of, for a person to label: smallest margin between the
    two most probable classes first, with the entropy of the class probabilities."""
    columns = [c for c in score_predictions.columns if c.startswith(PROBABILITY_PREFIX)]
    if not len(score_predictions) or len(columns) < 2:
        return pd.DataFrame(columns=["filepath", "pred_label", "confidence", "margin", "entropy"])
    p = np.clip(score_predictions[columns].to_numpy(float), 1e-12, 1)
    top = np.sort(p, axis=1)
    queue = score_predictions.assign(
        second_label=[
            columns[i].removeprefix(PROBABILITY_PREFIX) for i in np.argsort(p, axis=1)[:, -2]
        ],
        margin=top[:, -1] - top[:, -2],
        entropy=-(p * np.log(p)).sum(axis=1),
    ).sort_values(["margin", "filepath"])
    keep = ["id", "filepath", "pred_label", "confidence", "second_label", "margin", "entropy"]
    return queue.head(int(params["review_tiles"]))[keep + BOUND_COLUMNS].reset_index(drop=True)


def _with_bounds(predictions: pd.DataFrame) -> pd.DataFrame:
    return predictions[np.isfinite(predictions[BOUND_COLUMNS].to_numpy(float)).all(axis=1)]


def _map_properties(predictions: pd.DataFrame) -> list[str]:
    optional = ["smoothed_label", "smoothed_confidence"]
    return [
        "filename",
        "pred_label",
        "confidence",
        *[c for c in predictions.columns if c.startswith(PROBABILITY_PREFIX)],
        *[c for c in optional if c in predictions.columns],
    ]  # the model's name is in score_metadata.json, not repeated on every tile


def ground_truth_agreement(
    score_predictions: pd.DataFrame,
    tile_summaries: pd.DataFrame | None,
    column: str = "pred_label",
) -> float | None:
    """Share of scored tiles whose ``column`` (the prediction, or the smoothed one) matches
    ``true_label`` (demo data only), else None."""
    if tile_summaries is None or "true_label" not in tile_summaries.columns:
        return None
    if column not in score_predictions.columns:
        return None
    merged = score_predictions.merge(tile_summaries[["filename", "true_label"]], on="filename")
    return float((merged[column] == merged["true_label"]).mean()) if len(merged) else None


def run_parameters(
    metrics: dict[str, Any],
    ingest: dict[str, Any],
    featurize: dict[str, Any],
    labelled_region: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """What ran, section by section: the model as it was trained (its classifier's
    hyperparameters only, from the model's own record) and the tile and feature settings."""
    model = metrics["model"]
    return {
        "Model": {
            "model_name": model["model_name"],
            "network": model["pretrained_model"],
            "classifier": model["classifier"],
            **{f"{model['classifier']}.{k}": v for k, v in model["hyperparameters"].items()},
        },
        "Tiles (ingest)": {"split": split_rule(ingest, cells=bool(labelled_region)), **ingest},
        "Features (featurize)": {k: v for k, v in featurize.items() if k != "pretrained_model"},
    }


def split_rule(ingest: dict[str, Any], cells: bool = False) -> str:
    """How train and test tiles were chosen, in words (``test_fraction`` alone reads as a
    mistake when it is none and there are test tiles); the ``cells`` of a labelled raster set
    by spatial blocks."""
    fraction = ingest.get("test_fraction")
    sample = ingest.get("sample_frac", 1.0)
    used = "" if sample in (None, 1.0) else f"; {sample:.0%} of each class's tiles used (seeded)"
    if cells:
        blocks = ingest["land_cover"]
        side = int(blocks["split_block_cells"])
        return (
            f"spatial: the cells split by blocks of {side} x {side} cells, "
            f"{blocks['test_block_share']:.0%} of the blocks held out as test (seed "
            f"{ingest.get('seed')}), so that neighbouring cells never sit on both sides; labels "
            f"from the land-cover raster (a class covering at least "
            f"{blocks['min_label_purity']:.0%} of the cell){used}"
        )
    if fraction is None:
        return (
            "test tiles from the test folder, train tiles from the train folder "
            f"(test_fraction none){used}"
        )
    return (
        f"{fraction:.0%} of each class's tiles of the train folder held out as test tiles, "
        f"seeded (seed {ingest.get('seed')}){used}"
    )


def render_report(
    metrics: dict[str, Any],
    accounting: dict[str, Any],
    quarantine: pd.DataFrame,
    ignored: pd.DataFrame,
    score_predictions: pd.DataFrame,
    figures: dict[str, Callable[[], Image.Image]],
    tile_summaries: pd.DataFrame | None,
    parameters: dict[str, dict[str, Any]],
    review: pd.DataFrame,
    template_text: str,
    style: str,
    params: dict[str, Any],
    finetune_history: dict[str, Any] | None = None,
) -> str:
    """One HTML file with every figure embedded, the metrics, counts, fine-tuning's summary (when
    the network was fine-tuned) and the run's parameters."""
    template = Environment(autoescape=select_autoescape(["html"])).from_string(template_text)
    images = embedded_figures(figures)
    return template.render(
        title=params["title"],
        style=Markup(style),
        data_note=params["data_note"],
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        metrics=metrics,
        accounting=accounting,
        quarantine=quarantine.head(int(params["max_quarantine_rows"])).to_dict("records"),
        quarantine_total=len(quarantine),
        ignored_total=len(ignored),
        ignored_reasons=ignored["reason"].str.split(":").str[0].value_counts().to_dict(),
        predicted_counts=score_predictions["pred_label"].value_counts().sort_index().to_dict(),
        n_scored=len(score_predictions),
        agreement=ground_truth_agreement(score_predictions, tile_summaries),
        smoothed_agreement=ground_truth_agreement(
            score_predictions, tile_summaries, "smoothed_label"
        ),
        interactive_map=_interactive_land_use_map(score_predictions),
        mlflow_run_id=_model_run(score_predictions),
        finetuning=finetune_summary(finetune_history)
        if _finetuned_history(metrics, finetune_history)
        else None,
        review=review.to_dict("records"),
        images=images,
        parameters=parameters,
    )


def _model_run(score_predictions: pd.DataFrame) -> str | None:
    """The MLflow run that trained the model the region was scored with, where recorded."""
    if "mlflow_run_id" not in score_predictions.columns:
        return None
    runs = score_predictions["mlflow_run_id"].dropna().unique()
    return str(runs[0]) if len(runs) else None


def _interactive_land_use_map(score_predictions: pd.DataFrame) -> Markup:
    """The region's tiles in their class colours, pan/zoom and a hover line per tile."""
    if not len(score_predictions):
        return Markup("")
    classes = classes_of(score_predictions)
    colours = class_colours(classes)
    return Markup(
        interactive_map(
            score_predictions,
            [colours[c] for c in score_predictions["pred_label"]],
            [tile_tip(row, classes) for row in score_predictions.itertuples(index=False)],
            "land-use-map",
            legend=colours,
        )
    )
