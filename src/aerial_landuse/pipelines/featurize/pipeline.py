"""Featurize pipeline: labelled and score tiles through the selected pretrained network."""

from kedro.pipeline import Node, Pipeline

from .nodes import featurize_labelled, featurize_score


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                featurize_labelled,
                ["labelled_tile_index", "train_tiles", "pretrained_network", "params:featurize"],
                [
                    "train_features",
                    "test_features",
                    "featurize_quarantine_labelled",
                    "featurize_summary_labelled",
                ],
                name="featurize_labelled_tiles",
                tags=["labelled"],
            ),
            Node(
                featurize_score,
                ["score_tile_index", "score_tiles", "pretrained_network", "params:featurize"],
                ["score_features", "featurize_quarantine_score", "featurize_summary_score"],
                name="featurize_score_tiles",
                tags=["score"],
            ),
        ]
    )
