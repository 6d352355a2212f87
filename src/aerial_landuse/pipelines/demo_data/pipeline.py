"""Demo-data pipeline: writes the synthetic tile set, and the same kind of region as NAIP-like
GeoTIFF quads, into data/01_raw (not part of __default__)."""

from kedro.pipeline import Node, Pipeline

from aerial_landuse.core.contracts import DRIVER_ONLY

from .nodes import (
    generate_raster_regions,
    generate_regions,
    generate_test_tiles,
    generate_train_tiles,
)


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
                generate_regions,
                "params:demo_data",
                [
                    "demo_before_region_tiles",
                    "demo_before_tile_summaries",
                    "demo_after_region_tiles",
                    "demo_after_tile_summaries",
                ],
                name="generate_regions",
            ),
            Node(
                generate_raster_regions,
                ["params:demo_data", "params:ingest"],
                ["demo_before_raster_region", "demo_after_raster_region", "demo_land_cover"],
                name="generate_raster_regions",
            ),
        ],
        tags=[DRIVER_ONLY],  # no Spark: the run starts none
    )
