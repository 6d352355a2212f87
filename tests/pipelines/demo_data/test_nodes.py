import numpy as np
import pandas as pd

from aerial_landuse.core.tiles.demo_textures import GENERATORS, LAND_USE_CLASSES
from aerial_landuse.pipelines.demo_data.nodes import (
    class_map,
    generate_raster_regions,
    generate_regions,
    grown_class_map,
    labelled_tiles,
)
from tests.conftest import parameters

PARAMS = parameters("demo_data") | {
    "seed": 3,
    "tile_size": 224,
    "tile_size_m": 224,
    "train_tiles_per_class": 2,
    "test_tiles_per_class": 1,
    "edge_mix_probability": 0.5,
    "region": {"rows": 4, "cols": 5, "north_lat": 42.5, "west_lon": -71.4},
    "change": {
        "before_year": 2010,
        "after_year": 2016,
        "development_sites": 2,
        "forest_clearings": 1,
        "site_radius_tiles": 1.5,
    },
    "rasters": {
        "crs": "EPSG:32619",
        "quads": 2,
        "quad_px": 448,
        "resolution": 1.0,
        "overlap_px": 32,
        "collar_px": 8,
    },
}


def test_labelled_tiles_are_deterministic_224_rgb_per_class():
    first, second = labelled_tiles(PARAMS, "train"), labelled_tiles(PARAMS, "train")
    assert sorted({k.split("/")[0] for k in first}) == list(LAND_USE_CLASSES)
    assert len(first) == 2 * len(LAND_USE_CLASSES)
    for key in list(first)[:3]:
        a, b = first[key](), second[key]()
        assert a.size == (224, 224) and a.mode == "RGB"
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_train_and_test_tiles_differ():
    train, test = labelled_tiles(PARAMS, "train"), labelled_tiles(PARAMS, "test")
    key = "Forest/forest_0000"
    assert not np.array_equal(np.asarray(train[key]()), np.asarray(test[key]()))


def test_tiles_vary_within_a_class():
    tiles = labelled_tiles({**PARAMS, "train_tiles_per_class": 6}, "train")
    means = [np.asarray(tiles[f"Shrub/shrub_{i:04d}"]()).mean(axis=(0, 1)) for i in range(6)]
    assert np.std(means, axis=0).max() > 2.0


def test_classes_look_different_on_average():
    rng = np.random.default_rng(0)
    colour = {
        c: np.mean([GENERATORS[c](rng, 96).mean(axis=(0, 1)) for _ in range(4)], axis=0)
        for c in LAND_USE_CLASSES
    }
    distances = [
        np.linalg.norm(colour[a] - colour[b])
        for a in LAND_USE_CLASSES
        for b in LAND_USE_CLASSES
        if a < b
    ]
    assert min(distances) > 3.0


def test_region_map_has_coherent_areas_of_every_class():
    classes = class_map({**PARAMS, "region": {**PARAMS["region"], "rows": 16, "cols": 22}}, 8)
    assert set(np.unique(classes)) == set(range(len(LAND_USE_CLASSES)))
    same_as_right = (classes[:, 1:] == classes[:, :-1]).mean()
    assert same_as_right > 0.9  # areas, not noise


def test_score_region_tiles_and_summaries_tile_the_rectangle():
    tiles, summaries, later_tiles, later = generate_regions(PARAMS)
    assert len(later_tiles) == 20 and "naip_2016_r000_c000" in later_tiles
    assert later[["llcrnrlat", "llcrnrlon"]].equals(summaries[["llcrnrlat", "llcrnrlon"]])
    assert len(tiles) == 20 and len(summaries) == 20
    assert {f"{k}.png" for k in tiles} == set(summaries["filename"])
    assert list(summaries.columns[:5]) == [
        "filename",
        "llcrnrlat",
        "llcrnrlon",
        "urcrnrlat",
        "urcrnrlon",
    ]
    s = summaries.set_index("filename")
    a, east, south = (
        s.loc["naip_2010_r000_c000.png"],
        s.loc["naip_2010_r000_c001.png"],
        s.loc["naip_2010_r001_c000.png"],
    )
    assert np.isclose(a.urcrnrlon, east.llcrnrlon) and np.isclose(a.llcrnrlat, south.urcrnrlat)
    height_m = (a.urcrnrlat - a.llcrnrlat) * 111_320
    width_m = (a.urcrnrlon - a.llcrnrlon) * 111_320 * np.cos(np.radians(42.5))
    assert abs(height_m - 224) < 0.5 and abs(width_m - 224) < 0.5
    assert (
        isinstance(summaries, pd.DataFrame) and summaries["true_label"].isin(LAND_USE_CLASSES).all()
    )


def test_the_later_year_changes_in_patches_next_to_the_town():
    params = {**PARAMS, "region": {**PARAMS["region"], "rows": 16, "cols": 22}}
    before = class_map(params, 8)
    after = grown_class_map(before, params, 8)
    changed = before != after
    developed = LAND_USE_CLASSES.index("Developed")
    assert 0.02 < changed.mean() < 0.3
    became = set(np.unique(after[changed]))
    assert became <= {developed, LAND_USE_CLASSES.index("Cultivated")} and developed in became
    assert not np.isin(before[after == developed], [LAND_USE_CLASSES.index("Barren")]).any()
    # patches: most changed cells have changed neighbours on both sides
    inner = changed[1:-1, 1:-1] & changed[:-2, 1:-1] & changed[2:, 1:-1]
    assert inner.sum() > 0.6 * changed.sum()


def test_the_raster_demo_is_naip_like_quads_of_the_tile_regions_place_in_both_years(tmp_path):
    from kedro_datasets.partitions import PartitionedDataset
    from pyproj import Transformer

    from aerial_landuse.storage import Storage, TileFolder
    from aerial_landuse.storage.raster_region import read_raster_region, region_raster_files

    before, after, _ = generate_raster_regions(PARAMS, parameters("ingest"))
    assert list(before) == list(after) == ["quad_0", "quad_1"]
    west, east = before["quad_0"], before["quad_1"]
    assert west.pixels.shape == (4, 448, 448) and west.pixels.dtype == np.uint8
    assert west.crs == "EPSG:32619" and west.nodata == 0
    assert (west.pixels[:, :8] == 0).all() and (west.pixels[:, 8:-8, 8:-8] > 0).all()  # collars
    assert east.transform.c - west.transform.c == 448 - 32  # overlapping, west to east
    lon, lat = Transformer.from_crs("EPSG:32619", "EPSG:4326", always_xy=True).transform(
        west.transform.c, west.transform.f
    )
    assert abs(lat - 42.5) < 1e-4 and abs(lon + 71.4) < 1e-4  # the tile region's corner
    assert not np.array_equal(west.pixels, after["quad_0"].pixels)  # another flight
    folder = tmp_path / "naipdemo2010"
    PartitionedDataset(
        path=str(folder), dataset="aerial_landuse.datasets.CogDataset", filename_suffix=".tif"
    ).save(before)
    region = TileFolder(str(folder), labelled=False, storage=Storage())
    files = region_raster_files(region, "image")
    record = read_raster_region(region, files, parameters("ingest")["raster"])
    assert len(files) == 2 and len(record.cells()) >= 4  # 864 m x 448 m of 224 m cells


def test_the_raster_demo_has_an_nlcd_like_land_cover_of_the_later_year_to_train_from():
    from rasterio.warp import transform_bounds

    from aerial_landuse.pipelines.demo_data.nodes import raster_layout

    table = parameters("ingest")["land_cover"]["classes"]
    *_, land_cover = generate_raster_regions(PARAMS, parameters("ingest"))
    ((name, layer),) = land_cover.items()
    assert name == "nlcd"  # of the "after" year
    assert layer.crs == "EPSG:5070" and layer.transform.a == 30.0 and layer.nodata == 0
    codes = set(np.unique(layer.pixels).tolist()) - {0}
    assert 90 in codes and codes <= set(table)  # a woody wetland, excluded from labels
    assert {table[code] for code in codes} - {None} >= {"Developed", "Forest"}
    rows, cols = layer.pixels.shape[1:]
    left, top = layer.transform.c, layer.transform.f
    covered = transform_bounds(
        "EPSG:5070", "EPSG:32619", left, top - rows * 30, left + cols * 30, top
    )
    quads = raster_layout(PARAMS).bounds()
    assert covered[0] <= quads[0] and covered[1] <= quads[1]
    assert covered[2] >= quads[2] and covered[3] >= quads[3]
