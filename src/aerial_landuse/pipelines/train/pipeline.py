"""Train pipeline: classifier on the train split's features, saved under its model name."""

from kedro.pipeline import Node, Pipeline

from .nodes import train_classifier


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                train_classifier,
                ["labelled_features", "params:train"],
                "trained_model",
                name="train_classifier",
            )
        ],
        tags=["labelled"],
    )
