"""Featurize pipeline: labelled and score tiles through the selected pretrained network."""

from kedro.pipeline import Node, Pipeline

from .nodes import featurize_tiles, quarantine_and_count_featurized


def _featurize(tile_set: str, tiles: str, region: str | None = None) -> Pipeline:
    """Features of one tile set, then its quarantine and counts read back from them
    (``region``: the tile set's raster region record, when it may be one)."""
    return Pipeline(
        [
            Node(
                featurize_tiles,
                [
                    f"{tile_set}_tile_index",
                    tiles,
                    "pretrained_network",
                    "params:featurize",
                    "params:ingest",  # the tile limits, checked again at decode
                    f"{tile_set}_features_progress",  # a stopped run's finished parts
                    *([region] if region else []),
                ],
                f"{tile_set}_features",
                name=f"featurize_{tile_set}_tiles",
            ),
            Node(
                quarantine_and_count_featurized,
                [
                    f"{tile_set}_tile_index",
                    f"{tile_set}_features",
                    "pretrained_network",
                    "params:ingest",
                    *([region] if region else []),
                ],
                [f"featurize_quarantine_{tile_set}", f"featurize_summary_{tile_set}"],
                name=f"count_featurized_{tile_set}_tiles",
            ),
        ],
        tags=[tile_set],
    )


def create_pipeline(**kwargs) -> Pipeline:
    return _featurize("labelled", "train_tiles", "labelled_raster_region") + _featurize(
        "score", "score_tiles", "score_raster_region"
    )
