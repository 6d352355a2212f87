"""Evaluate pipeline: metrics of the trained model on the test tiles."""

from kedro.pipeline import Node, Pipeline

from .nodes import evaluate_model, predict_test_tiles, tabulate_test_predictions, tracking_record


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                predict_test_tiles,
                ["trained_model", "labelled_features", "labelled_split"],
                "test_predictions_spark",
                name="predict_test_tiles",
            ),
            Node(
                evaluate_model,
                ["trained_model", "test_predictions_spark"],
                "metrics",
                name="evaluate_model",
            ),
            Node(
                tracking_record,
                [
                    "metrics",
                    "split_summary",
                    "train_tiles",
                    "test_tiles",
                    "params:ingest",
                    "params:dataset",
                    "labelled_raster_region",
                ],
                ["tracked_metrics", "tracked_params"],
                name="record_run",
            ),
            Node(
                tabulate_test_predictions,
                "test_predictions_spark",
                "test_predictions",
                name="write_test_predictions",
            ),
        ],
        tags=["labelled"],
    )
