"""Change pipeline: two scored regions (years) of the same place compared tile by tile."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    area_statistics,
    change_geopackage,
    change_rasters,
    change_style,
    change_summary,
    changed_tiles_geojson,
    draw_change_figures,
    evaluate_against_truth,
    match_tiles,
    render_change_report,
    review_changes,
    transition_tables,
)


def create_pipeline(**kwargs) -> Pipeline:
    predictions = ["change_before_predictions", "change_after_predictions"]
    regions = ["change_before_raster_region", "change_after_raster_region"]  # {} or None: tiles
    return Pipeline(
        [
            Node(
                match_tiles,
                [*predictions, "params:change", *regions],
                ["change_pairs", "unmatched_tiles", "match_counts"],
                name="match_tiles",
            ),
            Node(
                transition_tables,
                "change_pairs",
                ["transitions_tiles", "transitions_km2"],
                name="tabulate_transitions",
            ),
            Node(area_statistics, [*predictions, "params:change"], "area_statistics", name="area"),
            Node(
                change_summary,
                ["change_pairs", "match_counts", "params:change"],
                "change_summary",
                name="summarise_change",
            ),
            Node(
                evaluate_against_truth,
                [
                    "change_pairs",
                    *predictions,
                    "change_before_summaries",
                    "change_after_summaries",
                    "params:change",
                ],
                "change_evaluation",
                name="evaluate_against_truth",
            ),
            Node(
                review_changes,
                ["change_pairs", "params:change"],
                "review_changes",
                name="review_changes",
            ),
            Node(changed_tiles_geojson, "change_pairs", "changed_tiles_geojson", name="geojson"),
            Node(change_geopackage, "change_pairs", "change_geopackage", name="geopackage"),
            Node(
                change_style,
                "change_pairs",
                ["change_qgis_style", "changed_tiles_qgis_style"],
                name="qgis_style",
            ),
            Node(
                draw_change_figures,
                [
                    "change_pairs",
                    "transitions_tiles",
                    "transitions_km2",
                    "area_statistics",
                    "change_evaluation",
                    "review_changes",
                    "change_before_tiles",
                    "change_after_tiles",
                    "params:change",
                    *regions,
                ],
                "change_figures@matplotlib",
                name="draw_change_figures",
            ),
            Node(
                change_rasters,
                ["change_pairs", *regions, "params:change"],
                "change_rasters",
                name="write_change_raster",
            ),
            Node(
                render_change_report,
                [
                    "change_summary",
                    "transitions_tiles",
                    "transitions_km2",
                    "area_statistics",
                    "change_evaluation",
                    "change_pairs",
                    "review_changes",
                    "change_figures@png",
                    "change_report_template",
                    "report_style",
                    "params:change",
                ],
                "change_report",
                name="render_change_report",
            ),
        ],
        tags=["change"],
    )
