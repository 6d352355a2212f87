"""Compare pipeline: the MLflow run history as a leaderboard (CSV, HTML, figure)."""

from kedro.pipeline import Node, Pipeline

from aerial_landuse.core.contracts import DRIVER_ONLY

from .nodes import leaderboard, leaderboard_figure, leaderboard_html


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(leaderboard, ["mlflow_runs", "params:compare"], "leaderboard", name="rank_runs"),
            Node(
                leaderboard_html,
                ["leaderboard", "params:compare"],
                "leaderboard_html",
                name="write_leaderboard_html",
            ),
            Node(
                leaderboard_figure,
                ["leaderboard", "params:compare"],
                "leaderboard_figure",
                name="draw_leaderboard",
            ),
        ],
        tags=[DRIVER_ONLY],  # no Spark: the run starts none
    )
