import json
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from aerial_landuse.datasets import PackageTextDataset
from aerial_landuse.pipelines.evaluate.nodes import metrics_from_confusion
from aerial_landuse.pipelines.report.nodes import (
    collect_quarantine,
    draw_figures,
    ground_truth_agreement,
    land_use_layers,
    reconcile_tile_counts,
    render_report,
    review_queue,
    run_parameters,
    split_rule,
    to_geojson,
)
from tests.conftest import folder, parameters

LABELS = ["Developed", "Forest", "Shrub"]
REPORT = parameters("report") | {
    "title": "Test report",
    "data_note": "Synthetic test tiles.",
    "gallery_tiles_per_class": 2,
    "max_quarantine_rows": 5,
    "seed": 0,
    "review_tiles": 4,
}


@pytest.fixture
def scored(tmp_path):
    root = tmp_path / "score"
    root.mkdir()
    rows = []
    rng = np.random.default_rng(0)
    for r in range(3):
        for c in range(4):
            name = f"t{r}{c}.png"
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / name)
            p = rng.dirichlet(np.ones(3))
            rows.append(
                {
                    "id": name,
                    "filename": name,
                    "filepath": str(root / name),
                    "llcrnrlat": 42.0 - r * 0.002,
                    "llcrnrlon": -71.0 + c * 0.003,
                    "urcrnrlat": 42.002 - r * 0.002,
                    "urcrnrlon": -70.997 + c * 0.003,
                    "pred_label": LABELS[int(p.argmax())],
                    "confidence": float(p.max()),
                    **{f"prob_{label}": float(p[i]) for i, label in enumerate(LABELS)},
                    "model_name": "m",
                    "pretrained_model": "efficientnet_lite0",
                }
            )
    return root, pd.DataFrame(rows)


def _metrics():
    metrics = metrics_from_confusion(np.array([[5, 1, 0], [0, 6, 1], [1, 0, 4]]), LABELS)
    metrics["model"] = {
        "model_name": "m",
        "pretrained_model": "efficientnet_lite0",
        "classifier": "logistic_regression",
        "hyperparameters": {"regParam": 0.01},
    }
    return metrics


HISTORY = {  # fine-tuning's epochs, as the finetune pipeline writes them
    "epochs": [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "validation_loss": 1.2 / e,
            "train_accuracy": a + 0.05,
            "validation_accuracy": a,
        }
        for e, a in ((1, 0.6), (2, 0.8), (3, 0.75))
    ],
    "best_epoch": 2,
}


def _finetuned_metrics():
    metrics = _metrics()
    metrics["model"]["pretrained_model"] = "efficientnet_lite0_finetuned"
    return metrics


def test_figures_cover_metrics_map_and_gallery(scored):
    tiles, predictions = scored
    images, absent = folder(tiles), folder(tiles / "absent")
    tests = _test_predictions(predictions)
    truth = predictions[["filename"]].assign(true_label=predictions["pred_label"])
    first = truth.index[0]  # one wrong prediction
    truth.loc[first, "true_label"] = (
        "Shrub" if truth.loc[first, "true_label"] != "Shrub" else "Forest"
    )
    queue = review_queue(predictions, REPORT)
    figures = draw_figures(
        _metrics(), predictions, images, tests, images, absent, truth, queue, REPORT
    )
    assert set(figures) == {
        "confusion_matrix.png",
        "class_metrics.png",
        "test_gallery.png",
        "land_use_map.png",
        "gallery.png",
        "review_sheet.png",
    }
    labelled_only = draw_figures(
        _metrics(),
        predictions.head(0),
        absent,
        tests,
        images,
        absent,
        None,
        review_queue(predictions.head(0), REPORT),
        REPORT,
    )
    assert set(labelled_only) == {"confusion_matrix.png", "class_metrics.png", "test_gallery.png"}
    assert all(isinstance(f, Figure) for f in figures.values())
    # the scored tiles' gallery: confidence on every tile, right or wrong where the truth is known
    captions = [ax.get_title() for ax in figures["gallery.png"].axes if ax.get_title()]
    assert captions and all("p=0." in c or "p=1." in c for c in captions)
    assert all(c.endswith("right") or " true " in c for c in captions)
    assert "right (green)" in figures["gallery.png"]._suptitle.get_text()
    map_axes = figures["land_use_map.png"].axes[0]
    assert map_axes.get_xlim() == pytest.approx((-71.0, -70.988))  # west to east
    assert map_axes.get_ylim() == pytest.approx((41.996, 42.002))  # south to north: north up
    assert map_axes.get_aspect() == pytest.approx(1 / np.cos(np.radians(41.999)), rel=1e-3)


def test_geojson_is_a_feature_collection_of_closed_lon_lat_polygons(scored):
    _, predictions = scored
    geojson = json.loads(json.dumps(to_geojson(predictions)))
    assert geojson["type"] == "FeatureCollection" and len(geojson["features"]) == 12
    feature = geojson["features"][0]
    ring = feature["geometry"]["coordinates"][0]
    assert feature["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 5
    assert ring[0] == [-71.0, 42.0]  # [lon, lat], lower-left first
    assert set(feature["properties"]) >= {"pred_label", "confidence", "prob_Forest"}


def test_accounting_reconciles_and_refuses_counts_that_do_not():
    split = {
        "train": {"listed": 7, "sampled_out": 2, "quarantined_ingest": 1,
                  "quarantined_featurize": 0, "used": 4},
        "test": {"listed": 3, "sampled_out": 0, "quarantined_ingest": 0,
                 "quarantined_featurize": 1, "used": 2},
    }  # fmt: skip
    ingest = {
        "train": {"listed": 10, "sampled_out": 0, "quarantined": 1, "indexed": 9, "ignored": 3}
    }
    featurize = {"train": {"indexed": 9, "featurized": 8, "quarantined": 1}}
    score_ingest = {"score": {"listed": 4, "sampled_out": 0, "quarantined": 0, "indexed": 4}}
    score_featurize = {"score": {"indexed": 4, "featurized": 4, "quarantined": 0}}
    accounting = reconcile_tile_counts(split, ingest, featurize, score_ingest, score_featurize)
    assert accounting["train"] == {
        "listed": 7,
        "sampled_out": 2,
        "quarantined_ingest": 1,
        "quarantined_featurize": 0,
        "featurized": 4,
        "ignored": 3,  # files of the folder that are not tiles: beside the reconciled counts
    }
    assert accounting["score"]["featurized"] == 4 and accounting["score"]["ignored"] == 0
    stale = {"train": {"indexed": 9, "featurized": 9, "quarantined": 0}}
    with pytest.raises(RuntimeError, match="reconcile"):
        reconcile_tile_counts(split, ingest, stale, score_ingest, score_featurize)
    grid = {"grid_cells": 9, "outside_imagery": 3, "outside_area": 2}  # a raster region's
    cells = {"score": {**score_ingest["score"], "grid": grid}}
    accounting = reconcile_tile_counts(split, ingest, featurize, cells, score_featurize)
    assert accounting["score"]["grid"] == grid and "grid" not in accounting["train"]


def test_a_labelled_raster_sets_cells_are_accounted_with_the_unlabelled_ones():
    split = {
        "train": {"listed": 5, "sampled_out": 0, "quarantined_ingest": 1,
                  "quarantined_featurize": 0, "used": 4},
        "test": {"listed": 2, "sampled_out": 0, "quarantined_ingest": 0,
                 "quarantined_featurize": 0, "used": 2},
    }  # fmt: skip
    grid = {"grid_cells": 12, "outside_imagery": 2}
    ingest = {"train": {"listed": 10, "sampled_out": 0, "quarantined": 1, "unlabelled": 3,
                        "indexed": 6, "ignored": 0, "grid": grid}}  # fmt: skip
    featurize = {"train": {"indexed": 6, "featurized": 6, "quarantined": 0}}
    accounting = reconcile_tile_counts(split, ingest, featurize, {}, {})
    cells = {"listed": 10, "labelled": 7, "unlabelled": 3, "grid": grid}
    assert (
        accounting["train"]["labelled_cells"] == cells
        and "labelled_cells" not in accounting["test"]
    )


def _test_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Test predictions over the same image files, some right, some wrong."""
    wrong = predictions.index % 3 == 0
    return pd.DataFrame(
        {
            "id": "train/" + predictions["filename"],
            "label": predictions["pred_label"].where(~wrong, "Forest"),
            "pred_label": predictions["pred_label"],
            "confidence": predictions["confidence"],
        }
    )


def test_ground_truth_agreement_only_when_truth_is_known(scored):
    _, predictions = scored
    truth = predictions[["filename"]].assign(true_label=predictions["pred_label"])
    assert ground_truth_agreement(predictions, truth) == 1.0
    assert ground_truth_agreement(predictions, predictions[["filename"]]) is None


def test_html_report_is_self_contained_with_everything_in_it(scored):
    tiles, predictions = scored
    files = folder(tiles)
    tests = _test_predictions(predictions)
    queue = review_queue(predictions, REPORT)
    figures = draw_figures(
        _finetuned_metrics(),
        predictions,
        files,
        tests,
        files,
        folder(tiles / "x"),
        None,
        queue,
        REPORT,
        HISTORY,
    )
    assert "finetune_curves.png" in figures
    images = {}
    for name, fig in figures.items():
        canvas = FigureCanvasAgg(fig)  # the figures carry no pyplot backend of their own
        canvas.draw()
        images[name.removesuffix(".png")] = lambda c=canvas: Image.frombuffer(
            "RGBA", c.get_width_height(), c.buffer_rgba()
        )
    quarantine = collect_quarantine(
        pd.DataFrame(
            [
                {
                    "path": "/x/broken.png",
                    "split": "train",
                    "label": "Forest",
                    "stage": "ingest",
                    "reason": "UnidentifiedImageError: cannot identify",
                }
            ]
        ),
        pd.DataFrame(columns=["path", "split", "label", "stage", "reason"]),
    )
    accounting = {
        "train": {
            "listed": 8,
            "sampled_out": 0,
            "quarantined_ingest": 1,
            "quarantined_featurize": 0,
            "featurized": 7,
        }
    }
    html = render_report(
        _finetuned_metrics(),
        accounting,
        quarantine,
        pd.DataFrame(
            {
                "path": ["/t/.DS_Store", "/t/notes.txt"],
                "split": "score",
                "reason": ["hidden or OS file: .DS_Store", "not a tile format: .txt"],
            }
        ),
        predictions.assign(mlflow_run_id="0123abcd"),
        images,
        predictions[["filename"]],
        run_parameters(_metrics(), {"test_fraction": None, "sample_frac": 1.0}, {"batch_size": 16}),
        queue,
        PackageTextDataset("aerial_landuse.reporting", "templates/report.html").load(),
        PackageTextDataset("aerial_landuse.reporting", "templates/report.css").load(),
        REPORT,
        HISTORY,
    )
    assert html.count("data:image/png;base64,") == 4  # charts, the map, the learning curves
    assert html.count("data:image/jpeg;base64,") == 3  # the photo sheets
    assert 'data-tiles="12"' in html and "Review queue" in html  # the interactive map
    assert not re.search(r'(src|href)="https?://', html)
    assert '"Segoe UI"' in html  # the shared CSS, not HTML-escaped
    assert (
        "Synthetic test tiles." in html and "broken.png" in html and "logistic_regression" in html
    )
    assert f"{100 * _metrics()['accuracy']:.1f}%" in html
    # parameters: what ran, the chosen classifier's settings only
    assert '<code>logistic_regression.regParam</code></td><td class="left">0.01' in html
    assert "numTrees" not in html and "<code>batch_size</code>" in html
    assert "test tiles from the test folder, train tiles from the train folder" in html
    assert '<code id="mlflow-run">0123abcd</code>' in html
    assert "for 3 epoch(s); the weights of epoch 2" in html and "validation accuracy 80.0%" in html
    assert "2 other file(s) in the tile folders were ignored (1 hidden or OS file, 1 not a" in html
    assert "<code>ignored.csv</code> in this report's folder" in html


def test_review_queue_puts_the_least_sure_tiles_first(scored):
    _, predictions = scored
    queue = review_queue(predictions, REPORT)
    assert len(queue) == 4 and queue["margin"].is_monotonic_increasing
    p = np.sort(predictions[[f"prob_{c}" for c in LABELS]].to_numpy(), axis=1)
    assert queue["margin"].iloc[0] == pytest.approx((p[:, -1] - p[:, -2]).min())
    assert (queue["second_label"] != queue["pred_label"]).all()
    assert (queue["entropy"] > 0).all()


def test_gis_layers_and_compact_geojson(scored):
    _, predictions = scored
    layer, style = land_use_layers(predictions)
    assert len(layer) == 12 and layer.crs.to_epsg() == 4326
    assert layer.geometry.iloc[0].bounds == pytest.approx((-71.0, 42.0, -70.997, 42.002))
    assert 'attr="pred_label"' in style and 'value="Forest"' in style
    assert "235,0,0,255" in style  # Developed in the report's NLCD red
    feature = to_geojson(predictions)["features"][0]
    assert all(
        len(str(v).split(".")[-1]) <= 3
        for v in feature["properties"].values()
        if isinstance(v, float)
    )
    assert "model_name" not in feature["properties"]  # in score_metadata.json, once


def test_a_raster_regions_cells_are_exact_squares_in_the_grids_crs(scored):
    from aerial_landuse.core.geometry.cell_grid import CellGrid
    from aerial_landuse.core.tiles.raster_region import RasterRegion

    _, predictions = scored
    cells = predictions.assign(id=[f"32619_{1383 + i % 4}_{20980 + i // 4}" for i in range(12)])
    record = RasterRegion(CellGrid("EPSG:32619", 224.0, 1383, 1386, 20980, 20982), ()).to_record()
    layer, _ = land_use_layers(cells, record)
    assert layer.crs.to_epsg() == 32619 and (layer.area == 224.0**2).all()
    assert layer.geometry.iloc[5].bounds == (
        1384 * 224.0,
        20981 * 224.0,
        1385 * 224.0,
        20982 * 224.0,
    )


@pytest.mark.parametrize("rows, cols", [(2, 40), (40, 2)])
def test_the_legend_never_covers_a_wide_or_tall_map(rows, cols):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from aerial_landuse.pipelines.report.figures import land_use_map_figure

    tiles = pd.DataFrame(
        [
            {
                "llcrnrlat": 42.0 - r * 0.002,
                "llcrnrlon": -71.0 + c * 0.003,
                "urcrnrlat": 42.002 - r * 0.002,
                "urcrnrlon": -70.997 + c * 0.003,
                "pred_label": LABELS[(r + c) % 3],
                "confidence": 0.9,
            }
            for r in range(rows)
            for c in range(cols)
        ]
    )
    fig = land_use_map_figure(tiles, LABELS, "map")
    FigureCanvasAgg(fig).draw()
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in fig.axes)
    assert any("m" in t.get_text() for t in fig.axes[0].texts)  # the scale bar's label


def test_the_split_rule_is_said_in_words():
    assert split_rule({"test_fraction": 0.2, "seed": 7, "sample_frac": 0.5}) == (
        "20% of each class's tiles of the train folder held out as test tiles, seeded (seed 7); "
        "50% of each class's tiles used (seeded)"
    )
    assert split_rule({"test_fraction": None}).endswith("(test_fraction none)")


def test_the_per_class_legend_covers_no_bar():
    from aerial_landuse.pipelines.report.figures import class_metrics_figure

    per_class = {c: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 5} for c in LABELS}
    fig = class_metrics_figure({"per_class": per_class, "macro_f1": 1.0})
    fig.canvas.draw()
    (ax,) = fig.axes
    legend = ax.get_legend().get_window_extent()
    assert not any(bar.get_window_extent().overlaps(legend) for bar in ax.patches)


def test_a_history_of_another_network_is_not_reported():
    from aerial_landuse.pipelines.report.nodes import _finetuned_history

    assert _finetuned_history(_finetuned_metrics(), HISTORY)
    assert not _finetuned_history(_metrics(), HISTORY)  # a pretrained network: nothing to show
    assert not _finetuned_history(_finetuned_metrics(), None)
