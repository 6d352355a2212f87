"""Finetune pipeline: the pretrained network trained end to end on the labelled train split (on
Spark, with TorchDistributor), exported to ONNX as ``<network>_finetuned`` (or, int8-quantized,
``<network>_finetuned_int8``)."""

from kedro.pipeline import Node, Pipeline

from aerial_landuse.reporting.learning_curves import plot_learning_curves

from .nodes import finetune_network


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                finetune_network,
                [
                    "labelled_tile_index",
                    "ingest_quarantine_labelled",
                    "train_tiles",
                    "params:ingest",
                    "params:finetune",
                    "params:dataset",
                    "params:pretrained",  # int8 calibration (<network>_finetuned_int8)
                    "labelled_raster_region",
                ],
                [
                    "pretrained_network",
                    "finetune_split",
                    "finetune_history",
                    "finetune_metrics",
                    "finetune_record",
                ],
                name="finetune_network",
            ),
            Node(
                plot_learning_curves,
                "finetune_history",
                "finetune_curves",
                name="plot_learning_curves",
            ),
        ],
        tags=["labelled"],
    )
