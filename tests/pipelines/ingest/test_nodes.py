import numpy as np
import pandas as pd
import pytest
from PIL import Image

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.tiles.usable import UnusableTilesError
from aerial_landuse.pipelines.ingest.nodes import (
    list_labelled_tiles,
    list_score_tiles,
    probe_tiles,
    split_index_and_quarantine,
)
from tests.conftest import folder, parameters, write_labelled_folder, write_labelled_raster_set

PARAMS = parameters("ingest") | {
    "test_fraction": None,
    "sample_frac": 1.0,
    "score_sample_frac": 1.0,
    "seed": 1,
    "rows_per_partition": 8,
    "max_quarantined_share": 0.05,
}


def test_separate_folders_give_train_and_test_with_labels_from_parent_folder(tmp_path):
    train = write_labelled_folder(tmp_path / "train", 3, ("Forest", "Shrub"))
    test = write_labelled_folder(tmp_path / "test", 2, ("Forest", "Shrub"))
    listing, ignored, _ = list_labelled_tiles(folder(train), folder(test), PARAMS)
    assert listing.groupby(["split", "label"]).size().to_dict() == {
        ("test", "Forest"): 2,
        ("test", "Shrub"): 2,
        ("train", "Forest"): 3,
        ("train", "Shrub"): 3,
    }
    assert listing["id"].is_unique and listing["sampled"].all()


def test_with_test_fraction_only_the_train_folder_is_listed_and_the_split_waits(tmp_path):
    root = write_labelled_folder(tmp_path / "all", 4, ("Forest", "Shrub"))
    test = write_labelled_folder(tmp_path / "test", 2, ("Forest", "Shrub"))
    listing, ignored, _ = list_labelled_tiles(
        folder(root), folder(test), {**PARAMS, "test_fraction": 0.3}
    )
    assert len(listing) == 8 and listing["split"].eq("train").all()  # decided after featurize


def test_empty_class_folder_is_an_error_naming_it(tmp_path):
    train = write_labelled_folder(tmp_path / "train", 2, ("Forest", "Shrub"))
    (train / "Barren").mkdir()
    with pytest.raises(ValueError, match=r"train/Barren"):
        folder(train).list_tiles()


def test_no_tiles_at_all_is_an_error_naming_the_folder(tmp_path):
    (tmp_path / "train" / "Forest").mkdir(parents=True)
    (tmp_path / "train" / "notes.txt").write_text("not a tile")
    with pytest.raises(ValueError, match="No tiles"):
        folder(tmp_path / "train").list_tiles()
    with pytest.raises(ValueError, match="does not exist"):
        folder(tmp_path / "nowhere").list_tiles()


def test_test_class_without_training_tiles_is_an_error(tmp_path):
    train = write_labelled_folder(tmp_path / "train", 2, ("Forest", "Shrub"))
    test = write_labelled_folder(tmp_path / "test", 1, ("Forest", "Barren"))
    with pytest.raises(ValueError, match="Barren"):
        list_labelled_tiles(folder(train), folder(test), PARAMS)


def _score_folder(tmp_path, n=4):
    root = tmp_path / "score"
    root.mkdir()
    rows = []
    for i in range(n):
        Image.new("RGB", (32, 32), (i * 40, 90, 60)).save(root / f"t{i}.png")
        rows.append(
            {
                "filename": f"t{i}.png",
                "llcrnrlat": 42.0,
                "llcrnrlon": -71.0 + i * 0.003,
                "urcrnrlat": 42.002,
                "urcrnrlon": -70.997 + i * 0.003,
            }
        )
    return root, pd.DataFrame(rows)


def test_score_tiles_get_bounds_from_tile_summaries(tmp_path):
    root, summaries = _score_folder(tmp_path)
    listing, ignored, region = list_score_tiles(
        folder(root, labelled=False), summaries, None, PARAMS
    )
    assert region == {}
    assert listing["split"].eq("score").all() and listing["label"].isna().all()
    assert listing.set_index("filename").loc["t2.png", "llcrnrlon"] == pytest.approx(-70.994)


def test_score_tile_without_metadata_row_is_an_error_naming_it(tmp_path):
    root, summaries = _score_folder(tmp_path)
    with pytest.raises(ValueError, match=r"t3\.png"):
        list_score_tiles(folder(root, labelled=False), summaries.iloc[:3], None, PARAMS)


def test_tile_summaries_missing_columns_is_an_error(tmp_path):
    root, summaries = _score_folder(tmp_path)
    with pytest.raises(ValueError, match="urcrnrlon"):
        list_score_tiles(
            folder(root, labelled=False), summaries.drop(columns="urcrnrlon"), None, PARAMS
        )


def _with(summaries, column, value, row=1):
    bad = summaries.astype({column: object}).copy()
    bad.loc[row, column] = value
    return bad


BAD_SUMMARIES = {  # case: (change to a good tile_summaries.csv, words of the error)
    "latitude 95": (lambda s: _with(s, "urcrnrlat", 95.0), r"urcrnrlat is outside -90..90"),
    "longitude -200": (lambda s: _with(s, "llcrnrlon", -200.0), r"llcrnrlon is outside -180"),
    "infinite": (lambda s: _with(s, "urcrnrlon", float("inf")), r"urcrnrlon is infinite"),
    "NaN": (lambda s: _with(s, "llcrnrlat", float("nan")), r"llcrnrlat is empty in 1 row"),
    "text": (lambda s: _with(s, "llcrnrlat", "north"), r"llcrnrlat is not a number.*'north'"),
    "corners swapped": (
        lambda s: s.rename(columns={"llcrnrlat": "urcrnrlat", "urcrnrlat": "llcrnrlat"}),
        r"upper-right corner not north-east",
    ),
    "duplicate rows": (lambda s: pd.concat([s, s.iloc[:1]]), r"more than one row for \['t0.png'\]"),
    "missing row": (lambda s: s.iloc[1:], r"1 tile\(s\) .* have no row .*t0\.png"),
}


@pytest.mark.parametrize("case", sorted(BAD_SUMMARIES))
def test_bad_tile_summaries_are_refused_before_any_tile_is_read(tmp_path, case):
    root, summaries = _score_folder(tmp_path)
    change, message = BAD_SUMMARIES[case]
    with pytest.raises(UserInputError, match=message):
        list_score_tiles(folder(root, labelled=False), change(summaries), None, PARAMS)


def test_same_file_name_in_two_sub_folders_needs_relative_paths(tmp_path):
    root, summaries = _score_folder(tmp_path)
    (root / "2019").mkdir()
    (root / "2019" / "t0.png").write_bytes((root / "t0.png").read_bytes())
    with pytest.raises(UserInputError, match=r"share a file name .*2019/t0\.png.*relative"):
        list_score_tiles(folder(root, labelled=False), summaries, None, PARAMS)
    extra = summaries.iloc[:1].assign(filename="2019/t0.png", llcrnrlat=41.5, urcrnrlat=41.502)
    listing, _, _ = list_score_tiles(
        folder(root, labelled=False),
        pd.concat([summaries, extra], ignore_index=True),
        None,
        PARAMS,
    )
    by_path = listing.set_index("relpath")
    assert by_path.loc["2019/t0.png", "llcrnrlat"] == 41.5
    assert by_path.loc["t0.png", "llcrnrlat"] != 41.5


def _write_odd_tiles(root):
    """Accepted: JPEG, TIFF, 16-bit, RGBA, palette, odd sizes. Refused: garbage, empty."""
    (root / "Forest").mkdir(parents=True)
    (root / "Shrub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (100, 80, 3), dtype=np.uint8)).save(
        root / "Forest" / "a.jpg"
    )
    Image.fromarray(rng.integers(0, 255, (64, 64, 4), dtype=np.uint8)).save(
        root / "Forest" / "b.tif"
    )
    Image.fromarray(rng.integers(0, 65535, (50, 50), dtype=np.uint16)).save(
        root / "Forest" / "c16.tiff"
    )
    Image.fromarray(rng.integers(0, 255, (300, 300, 4), dtype=np.uint8), "RGBA").save(
        root / "Shrub" / "d.png"
    )
    Image.new("P", (40, 40)).save(root / "Shrub" / "e.PNG")
    (root / "Shrub" / "garbage.png").write_bytes(b"this is not an image")
    (root / "Shrub" / "empty.jpg").write_bytes(b"")


def test_probe_indexes_readable_tiles_and_quarantines_the_rest_with_a_reason(spark, tmp_path):
    _write_odd_tiles(tmp_path / "train")
    listing, ignored, _ = list_labelled_tiles(
        folder(tmp_path / "train"), folder(tmp_path / "x"), {**PARAMS, "test_fraction": 0.4}
    )
    probed = probe_tiles(listing, folder(tmp_path / "train"), PARAMS)
    params = {**PARAMS, "max_quarantined_share": 0.5}
    index, quarantine, summary = split_index_and_quarantine(probed, listing, ignored, params)
    rows = {r["filename"]: r for r in index.collect()}
    assert set(rows) == {"a.jpg", "b.tif", "c16.tiff", "d.png", "e.PNG"}
    assert (rows["a.jpg"]["width"], rows["a.jpg"]["height"], rows["a.jpg"]["format"]) == (
        80,
        100,
        "JPEG",
    )
    assert rows["c16.tiff"]["mode"].startswith("I;16")
    assert sorted(quarantine["path"].str.rsplit("/", n=1).str[-1]) == ["empty.jpg", "garbage.png"]
    assert quarantine["reason"].str.len().gt(5).all() and quarantine["stage"].eq("ingest").all()
    total = sum(s["listed"] for s in summary.values())
    assert (
        total
        == 7
        == sum(s["indexed"] + s["quarantined"] + s["sampled_out"] for s in summary.values())
    )


@pytest.mark.parametrize("broken", [2, 6])
def test_a_split_with_too_many_unreadable_tiles_stops_the_run_naming_the_folder(
    spark, tmp_path, broken
):
    root = write_labelled_folder(tmp_path / "train", 3, classes=("Forest", "Shrub"), size=32)
    paths = sorted(root.rglob("*.png"))[:broken]
    for path in paths:
        path.write_bytes(b"not an image")
    tiles = folder(root)
    listing, ignored, _ = list_labelled_tiles(
        tiles, folder(tmp_path / "x"), {**PARAMS, "test_fraction": 0.3}
    )
    probed = probe_tiles(listing, tiles, PARAMS)
    with pytest.raises(UnusableTilesError) as error:
        split_index_and_quarantine(probed, listing, ignored, PARAMS)
    message = str(error.value)
    assert str(root) in message and "UnidentifiedImageError" in message
    assert "max_quarantined_share" in message and "of " in message


@pytest.fixture(scope="module")
def raster_region(tmp_path_factory):
    """Two COG quads, 992 m x 512 m from 310,000 m E (UTM 19N): a 6 x 4 grid of 224 m cells."""
    from aerial_landuse.core.tiles.demo_rasters import MosaicLayout, write_quads

    root = tmp_path_factory.mktemp("rasters") / "region"
    layout = MosaicLayout(quad_px=512, overlap_px=32, collar_px=8)
    write_quads(root, "quad", np.zeros((16, 31), int), 32.0, layout, seed=3)
    return folder(root, labelled=False)


def _area(box: tuple[float, float, float, float], crs: str | None = "EPSG:32619"):
    import geopandas as gpd
    import shapely

    return gpd.GeoDataFrame(geometry=[shapely.box(*box)], crs=crs)


def test_an_area_of_interest_clips_a_raster_regions_cells_and_the_rest_is_counted(raster_region):
    whole, _, record = list_score_tiles(raster_region, None, None, PARAMS)
    assert record["cell_counts"] == {"grid_cells": 24, "outside_imagery": 0, "outside_area": 0}
    # the western half of the imagery, given in degrees as a county boundary would be
    west = _area((310_000, 4_699_488, 310_450, 4_700_000)).to_crs("EPSG:4326")
    listing, _, record = list_score_tiles(raster_region, None, west, PARAMS)
    cols = listing["path"].str.split("_").str[1].astype(int)
    assert set(cols) == {1383, 1384, 1385} and len(listing) == 12  # cells sharing ground with it
    assert record["cell_counts"] == {"grid_cells": 24, "outside_imagery": 0, "outside_area": 12}
    assert set(listing["id"]) < set(whole["id"])


def test_a_bad_area_of_interest_is_refused_naming_the_file_and_the_fix(raster_region):
    with pytest.raises(UserInputError, match=r"area_of_interest\.gpkg.* no CRS.*ogr2ogr"):
        list_score_tiles(
            raster_region, None, _area((310_000, 4_699_500, 310_400, 4_700_000), None), PARAMS
        )
    with pytest.raises(UserInputError, match=r"does not overlap the region's imagery"):
        list_score_tiles(raster_region, None, _area((0, 0, 1000, 1000)), PARAMS)


def test_the_grid_counts_reconcile_in_the_ingest_summary(spark, raster_region):
    west = _area((310_000, 4_699_488, 310_450, 4_700_000))
    listing, ignored, record = list_score_tiles(raster_region, None, west, PARAMS)
    probed = probe_tiles(listing, raster_region, PARAMS, record)
    _, _, summary = split_index_and_quarantine(probed, listing, ignored, PARAMS, record)
    grid = summary["score"]["grid"]
    assert summary["score"]["listed"] + grid["outside_imagery"] + grid["outside_area"] == 24
    broken = {**record, "cell_counts": {**record["cell_counts"], "outside_area": 11}}
    with pytest.raises(RuntimeError, match="do not reconcile"):
        split_index_and_quarantine(probed, listing, ignored, PARAMS, broken)


def test_a_labelled_raster_sets_cells_are_labelled_on_the_executors_and_counted(spark, tmp_path):
    """train_tiles holding imagery (no class folders): its cells are listed, labelled from the
    land-cover raster in another projection by the executors, and the cells it gives no class
    (mixed, wetland) are listed with the reason and counted apart from unreadable ones."""
    write_labelled_raster_set(tmp_path / "train", tmp_path / "land_cover")
    train, land_cover = folder(tmp_path / "train"), folder(tmp_path / "land_cover", False)
    params = PARAMS | {"raster": PARAMS["raster"] | {"tile_size_m": 64}}
    listing, ignored, record = list_labelled_tiles(
        train, folder(tmp_path / "none"), params, land_cover
    )
    assert ignored.empty and listing["label"].isna().all() and "land_cover" in record
    assert listing["id"].str.fullmatch(r"32619_\d+_\d+").all()
    probed = probe_tiles(listing, train, params, record)
    index, quarantine, summary = split_index_and_quarantine(
        probed, listing, ignored, params, record
    )
    labels = index.select("id", "label").toPandas()
    row = summary["train"]
    assert row["listed"] == len(listing) == row["indexed"] + row["unlabelled"] + row["quarantined"]
    assert row["quarantined"] == 0 and row["grid"]["grid_cells"] == len(listing)
    assert set(labels["label"]) == {"Forest", "Cultivated", "Developed"}
    unlabelled = quarantine[quarantine["stage"] == "label"]
    assert len(unlabelled) == row["unlabelled"] > 0
    assert unlabelled["reason"].str.startswith("mixed: ").any()
    assert unlabelled["reason"].str.contains("code 90 is excluded").any()
    columns = labels["id"].str.split("_").str[1].astype(int)
    west = labels.loc[columns == columns.min(), "label"]
    assert set(west) == {"Forest"}


def test_an_area_of_interest_clips_a_labelled_raster_set_and_the_rest_is_counted(spark, tmp_path):
    """A polygon in WGS84 over the west part of a labelled set in UTM: only its cells are
    listed and labelled; the grid's other cells are counted outside the imagery or the area."""
    from pyproj import Transformer

    write_labelled_raster_set(tmp_path / "train", tmp_path / "land_cover")
    to_wgs84 = Transformer.from_crs("EPSG:32619", "EPSG:4326", always_xy=True)
    west = to_wgs84.transform_bounds(310_000.0, 4_699_488.0, 310_300.0, 4_700_000.0)
    params = PARAMS | {"raster": PARAMS["raster"] | {"tile_size_m": 64}}
    train, land_cover = folder(tmp_path / "train"), folder(tmp_path / "land_cover", False)
    whole, _, _ = list_labelled_tiles(train, folder(tmp_path / "none"), params, land_cover)
    listing, ignored, record = list_labelled_tiles(
        train, folder(tmp_path / "none"), params, land_cover, _area(west, "EPSG:4326")
    )
    counts = record["cell_counts"]
    assert 0 < len(listing) < len(whole) and counts["outside_area"] == len(whole) - len(listing)
    columns = listing["id"].str.split("_").str[1].astype(int)
    assert columns.max() * 64 <= 310_300  # cells west of the area's east edge (metres)
    probed = probe_tiles(listing, train, params, record)
    index, _, summary = split_index_and_quarantine(probed, listing, ignored, params, record)
    row = summary["train"]
    assert (
        row["grid"]["grid_cells"]
        == row["listed"] + counts["outside_imagery"] + counts["outside_area"]
    )
    labels = set(index.select("label").toPandas()["label"])
    assert "Forest" in labels and labels <= {"Forest", "Cultivated"}  # no Developed: east


def test_a_labelled_raster_set_without_a_land_cover_raster_says_where_to_put_it(tmp_path):
    write_labelled_raster_set(tmp_path / "train", tmp_path / "elsewhere")
    with pytest.raises(UserInputError, match=r"land_cover.*holds none: put the land-cover"):
        list_labelled_tiles(
            folder(tmp_path / "train"), folder(tmp_path / "none"), PARAMS,
            folder(tmp_path / "land_cover", False),
        )  # fmt: skip


def test_a_labelled_raster_set_takes_its_classes_from_a_polygon_layer(spark, tmp_path):
    """A GeoJSON of labelled polygons in WGS84 beside the imagery (UTM): each cell the class of
    the polygons covering most of it (measured in the grid's CRS); cells between the polygons
    unlabelled with the reason, counted apart."""
    import geopandas as gpd
    import shapely

    write_labelled_raster_set(tmp_path / "train", tmp_path / "unused")
    left, top = 310_000.0, 4_700_000.0
    polygons = gpd.GeoDataFrame(
        {"class": ["Forest", "Developed"]},
        geometry=[
            shapely.box(left, top - 512, left + 400, top),
            shapely.box(left + 600, top - 512, left + 992, top),
        ],
        crs="EPSG:32619",
    ).to_crs("EPSG:4326")
    (tmp_path / "labels").mkdir()
    polygons.to_file(tmp_path / "labels" / "fields.geojson", driver="GeoJSON")
    train, labels = folder(tmp_path / "train"), folder(tmp_path / "labels", False)
    params = PARAMS | {"raster": PARAMS["raster"] | {"tile_size_m": 64}}
    listing, ignored, record = list_labelled_tiles(train, folder(tmp_path / "none"), params, labels)
    assert record["land_cover"]["polygons"] == [str(tmp_path / "labels" / "fields.geojson")]
    probed = probe_tiles(listing, train, params, record)
    index, quarantine, summary = split_index_and_quarantine(
        probed, listing, ignored, params, record
    )
    found = index.select("id", "label").toPandas()
    column = found["id"].str.split("_").str[1].astype(int) * 64 - left  # cell's west edge, m
    assert set(found.loc[column + 64 <= 400, "label"]) == {"Forest"}
    assert set(found.loc[column >= 600, "label"]) == {"Developed"}
    reasons = quarantine.loc[quarantine["stage"] == "label", "reason"]
    assert reasons.str.startswith("no label polygon").any() and summary["train"][
        "unlabelled"
    ] == len(reasons)
    assert summary["train"]["indexed"] == len(found) and summary["train"]["quarantined"] == 0
