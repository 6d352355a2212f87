"""Score pipeline: the chosen model over the featurized score tiles."""

from kedro.pipeline import Node, Pipeline

from .nodes import score_tiles, seed_format_scores


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                score_tiles,
                ["trained_model", "score_features", "params:score"],
                "score_predictions@spark",
                name="score_tiles",
            ),
            Node(
                seed_format_scores,
                "score_predictions@pandas",
                "score_predictions_csv",
                name="write_score_csv",
            ),
        ],
        tags=["score"],
    )
