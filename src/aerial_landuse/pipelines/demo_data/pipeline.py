"""Demo-data pipeline: writes the synthetic tile set into data/01_raw (not part of __default__)."""

from kedro.pipeline import Node, Pipeline

from .nodes import generate_score_region, generate_test_tiles, generate_train_tiles


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                generate_train_tiles,
                "params:demo_data",
                "demo_train_tiles",
                name="generate_train_tiles",
            ),
            Node(
                generate_test_tiles,
                "params:demo_data",
                "demo_test_tiles",
                name="generate_test_tiles",
            ),
            Node(
                generate_score_region,
                "params:demo_data",
                ["demo_score_tiles", "tile_summaries"],
                name="generate_score_region",
            ),
        ]
    )
