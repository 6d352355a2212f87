"""Pretrained pipeline: export the selected network (run once per network)."""

from kedro.pipeline import Node, Pipeline

from aerial_landuse.core.contracts import DRIVER_ONLY

from .nodes import export_pretrained_network


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                export_pretrained_network,
                ["params:pretrained", "train_tiles"],
                "pretrained_network",
                name="export_pretrained_network",
            )
        ],
        tags=[DRIVER_ONLY],  # no Spark: the run starts none
    )
