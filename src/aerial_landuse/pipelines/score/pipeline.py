"""Score pipeline: the chosen model over the featurized score tiles."""

from kedro.pipeline import Node, Pipeline

from .nodes import rasterize_scores, score_tiles, tabulate_score_predictions


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                score_tiles,
                ["trained_model", "score_features", "params:score"],
                ["score_predictions@spark", "score_metadata"],
                name="score_tiles",
            ),
            Node(
                tabulate_score_predictions,
                "score_predictions@pandas",
                "score_predictions_csv",
                name="write_score_csv",
            ),
            Node(
                rasterize_scores,
                ["score_predictions@pandas", "score_raster_region"],
                "score_rasters",
                name="write_score_rasters",
            ),
        ],
        tags=["score"],
    )
