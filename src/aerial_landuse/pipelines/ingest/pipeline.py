"""Ingest pipeline: labelled tiles (train/test) and tiles to score, each to an index."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    list_labelled_tiles,
    list_score_tiles,
    probe_tiles,
    split_index_and_quarantine,
    unopened_tiles,
)


def _labelled_probe() -> Node:
    """Labelled tiles' headers read (fine-tuning and the split see only readable tiles), a
    labelled raster set's cells labelled from its land cover."""
    return Node(
        probe_tiles,
        ["labelled_listing", "train_tiles", "params:ingest", "labelled_raster_region"],
        "labelled_probe",
        name="probe_labelled_tiles",
    )


def _score_unopened() -> Node:
    """Tiles to score are not opened at ingest: featurize reads each once (one request per
    tile on blob storage) and quarantines those it cannot read."""
    return Node(
        unopened_tiles, ["score_listing", "score_tiles"], "score_unopened", name="frame_score_tiles"
    )


def _index(tile_set: str, frame: str, region: str) -> Node:
    """The tile set's index from ``frame`` (probed or unopened), its quarantine and its counts
    (``region``: its raster region record)."""
    return Node(
        split_index_and_quarantine,
        [
            frame,
            f"{tile_set}_listing",
            f"ingest_ignored_{tile_set}",
            "params:ingest",
            region,
        ],
        [
            f"{tile_set}_tile_index",
            f"ingest_quarantine_{tile_set}",
            f"ingest_summary_{tile_set}",
        ],
        name=f"index_{tile_set}_tiles",
    )


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
            _labelled_probe(),
            _index("labelled", "labelled_probe", "labelled_raster_region"),
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
            _score_unopened(),
            _index("score", "score_unopened", "score_raster_region"),
        ],
        tags=["score"],
    )
    return labelled + score
