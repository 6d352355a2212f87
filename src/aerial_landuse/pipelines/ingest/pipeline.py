"""Ingest pipeline: labelled tiles (train/test) and tiles to score, each to an index."""

from kedro.pipeline import Node, Pipeline

from .nodes import list_labelled_tiles, list_score_tiles, probe_tiles, split_index_and_quarantine


def _probe_and_index(tile_set: str, tiles: str, region: str | None = None) -> list[Node]:
    """Probe and index a tile set (``region``: its raster region record, when it may be one)."""
    return [
        Node(
            probe_tiles,
            [f"{tile_set}_listing", tiles, "params:ingest", *([region] if region else [])],
            f"{tile_set}_probe",
            name=f"probe_{tile_set}_tiles",
        ),
        Node(
            split_index_and_quarantine,
            [
                f"{tile_set}_probe",
                f"{tile_set}_listing",
                f"ingest_ignored_{tile_set}",
                "params:ingest",
                *([region] if region else []),
            ],
            [
                f"{tile_set}_tile_index",
                f"ingest_quarantine_{tile_set}",
                f"ingest_summary_{tile_set}",
            ],
            name=f"index_{tile_set}_tiles",
        ),
    ]


def create_pipeline(**kwargs) -> Pipeline:
    labelled = Pipeline(
        [
            Node(
                list_labelled_tiles,
                [
                    "train_tiles",
                    "test_tiles",
                    "params:ingest",
                    "land_cover",
                    "labelled_area_of_interest",
                ],
                ["labelled_listing", "ingest_ignored_labelled", "labelled_raster_region"],
                name="list_labelled_tiles",
            ),
            *_probe_and_index("labelled", "train_tiles", "labelled_raster_region"),
        ],
        tags=["labelled"],
    )
    score = Pipeline(
        [
            Node(
                list_score_tiles,
                ["score_tiles", "tile_summaries", "area_of_interest", "params:ingest"],
                ["score_listing", "ingest_ignored_score", "score_raster_region"],
                name="list_score_tiles",
            ),
            *_probe_and_index("score", "score_tiles", "score_raster_region"),
        ],
        tags=["score"],
    )
    return labelled + score
