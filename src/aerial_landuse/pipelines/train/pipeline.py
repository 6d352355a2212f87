"""Train pipeline: classifier on the train split's features, saved under its model name."""

from kedro.pipeline import Node, Pipeline

from .nodes import split_labelled_tiles, train_classifier


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                split_labelled_tiles,
                [
                    "labelled_features",
                    "ingest_quarantine_labelled",
                    "params:ingest",
                    "labelled_raster_region",
                ],
                ["labelled_split", "split_summary"],
                name="split_labelled_tiles",
            ),
            Node(
                train_classifier,
                ["labelled_features", "labelled_split", "params:train"],
                ["trained_model", "tuning_record"],
                name="train_classifier",
            ),
        ],
        tags=["labelled"],
    )
