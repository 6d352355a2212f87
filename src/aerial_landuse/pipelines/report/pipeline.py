"""Report pipeline: figures, land-use map, GeoJSON and the HTML report."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    collect_ignored,
    collect_quarantine,
    draw_figures,
    land_use_layers,
    reconcile_tile_counts,
    render_report,
    review_queue,
    run_parameters,
    to_geojson,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                reconcile_tile_counts,
                [
                    "split_summary",
                    "ingest_summary_labelled",
                    "featurize_summary_labelled",
                    "ingest_summary_score",
                    "featurize_summary_score",
                ],
                "tile_accounting",
                name="reconcile_tile_counts",
            ),
            Node(
                collect_quarantine,
                [
                    "ingest_quarantine_labelled",
                    "ingest_quarantine_score",
                    "featurize_quarantine_labelled",
                    "featurize_quarantine_score",
                ],
                "quarantine_report",
                name="collect_quarantine",
            ),
            Node(
                collect_ignored,
                ["ingest_ignored_labelled", "ingest_ignored_score"],
                "ignored_report",
                name="collect_ignored",
            ),
            Node(
                draw_figures,
                [
                    "metrics",
                    "score_predictions@pandas",
                    "score_tiles",
                    "test_predictions",
                    "train_tiles",
                    "test_tiles",
                    "tile_summaries",
                    "review_queue",
                    "params:report",
                    "report_finetune_history",
                    "score_raster_region",
                    "labelled_raster_region",
                ],
                "report_figures@matplotlib",
                name="draw_figures",
            ),
            Node(
                run_parameters,
                ["metrics", "params:ingest", "params:featurize", "labelled_raster_region"],
                "run_parameters",
                name="collect_run_parameters",
            ),
            Node(to_geojson, "score_predictions@pandas", "land_use_geojson", name="write_geojson"),
            Node(
                land_use_layers,
                ["score_predictions@pandas", "score_raster_region"],
                ["land_use_geopackage", "land_use_qgis_style"],
                name="write_gis_layers",
            ),
            Node(
                review_queue,
                ["score_predictions@pandas", "params:report"],
                "review_queue",
                name="queue_least_sure_tiles",
            ),
            Node(
                render_report,
                [
                    "metrics",
                    "tile_accounting",
                    "quarantine_report",
                    "ignored_report",
                    "score_predictions@pandas",
                    "report_figures@png",
                    "tile_summaries",
                    "run_parameters",
                    "review_queue",
                    "report_template",
                    "report_style",
                    "params:report",
                    "report_finetune_history",
                ],
                "html_report",
                name="render_html_report",
            ),
        ]
    )
