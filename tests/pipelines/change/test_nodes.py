import numpy as np
import pandas as pd
import pytest

from aerial_landuse.pipelines.change.nodes import (
    area_statistics,
    change_geopackage,
    change_style,
    change_summary,
    changed_tiles_geojson,
    evaluate_against_truth,
    match_tiles,
    render_change_report,
    review_changes,
    transition_tables,
)
from tests.browser import page_width
from tests.pipelines.change.conftest import PARAMS


def test_tiles_match_on_bounds_and_only_confident_change_counts(years):
    before, _, after, _ = years
    before = pd.concat(
        [before, before.iloc[[0]].assign(filename="lost.png", llcrnrlat=np.nan)], ignore_index=True
    )
    pairs, unmatched, counts = match_tiles(before, after.iloc[1:], PARAMS)
    assert counts == {
        "match_on": "bounds",
        "matched": 35,
        "only_before": 2,
        "only_after": 0,
        "before_tiles": 37,
        "after_tiles": 35,
    }
    assert set(unmatched["reason"]) == {
        "no bounds in tile_summaries.csv",
        "no tile at this place in r2016",
    }
    assert pairs["before_filename"].str[6:].equals(pairs["after_filename"].str[6:])  # same cell
    # changed: 5 (of 6: one unmatched) developed + 2 noise + 1 real but shaky; counted: 5
    assert pairs["changed"].sum() == 8 and pairs["counted_change"].sum() == 5
    assert pairs["became_developed"].sum() == 5
    tiles, km2 = transition_tables(pairs)
    t = tiles.set_index("from")
    assert t.loc["Forest", "Developed"] == 5 and t.to_numpy().sum() == pairs["confident"].sum()
    one_tile_km2 = pairs["area_km2"].iloc[0]
    assert one_tile_km2 == pytest.approx(0.2226 * 0.2219, rel=0.01)  # geodesic, not degrees
    assert km2.set_index("from").loc["Forest", "Developed"] == pytest.approx(
        5 * one_tile_km2, rel=1e-3
    )
    summary = change_summary(pairs, counts, PARAMS)
    assert summary["changed_tiles"] == 5 and summary["uncertain_tiles"] == 3


def test_filename_matching_and_a_missing_region_is_named(years):
    before, _, after, _ = years
    after = after.assign(filename=after["filename"].str.replace("2016", "2010"))
    pairs, _, counts = match_tiles(before, after, {**PARAMS, "match_on": "filename"})
    assert counts["matched"] == 36
    with pytest.raises(Exception, match="--params region=r2016"):
        match_tiles(before, after.iloc[0:0], PARAMS)


def test_detected_change_is_measured_against_the_truth(years):
    before, bs, after, as_ = years
    pairs, _, _ = match_tiles(before, after, PARAMS)
    evaluation = evaluate_against_truth(pairs, before, after, bs, as_, PARAMS)
    assert evaluation["true_changes"] == 7
    raw = evaluation["change"]["raw"]
    assert raw == {
        "detected": 6,
        "true_changes": 7,
        "precision": 1.0,
        "recall": pytest.approx(6 / 7, abs=1e-4),
    }
    sweep = {row["min_confidence"]: row for row in evaluation["threshold_sweep"]}
    assert sweep[0.0]["raw_detected"] == 9 and sweep[0.0]["raw_precision"] < 1  # noise counted
    assert evaluate_against_truth(pairs, before, after, None, as_, PARAMS) == {}


def test_area_statistics_outputs_and_review_queue(years):
    before, _, after, _ = years
    area = area_statistics(before, after, PARAMS).set_index("class")
    assert area["before_share"].sum() == pytest.approx(1) == area["after_share"].sum()
    assert area.loc["Developed", "change_km2"] > 0 and area["change_km2"].sum() == pytest.approx(
        0, abs=1e-3
    )
    pairs, _, _ = match_tiles(before, after, PARAMS)
    review = review_changes(pairs, PARAMS)
    assert len(review) == 5 and review["least_confidence"].is_monotonic_increasing
    geojson = changed_tiles_geojson(pairs)
    assert len(geojson["features"]) == pairs["counted_change"].sum()
    ring = geojson["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    layer = change_geopackage(pairs)
    assert len(layer) == 36 and layer.crs.to_epsg() == 4326


def test_the_change_report_fits_a_1280_px_window_and_names_no_local_paths(years, tmp_path):
    """Long tile names wrap, the review table's last columns stay on screen, -0.00 never shows."""
    from importlib.resources import files

    before, _, after, _ = years
    deep = "/home/analyst/projects/middlesex/data/01_raw/naip_2016_quarter_quads_cut/"
    long_name = "m_4207123_ne_19_060_20160710_20161004_tile_0423_of_1000_rgb.png"
    after = after.assign(filepath=deep + after["filename"], filename=long_name)
    pairs, _, counts = match_tiles(before, after, PARAMS)
    transitions_tiles, transitions_km2 = transition_tables(pairs)
    area = area_statistics(before, after, PARAMS)
    area.loc[0, "change_km2"] = -0.0004  # prints as 0.000
    templates = files("aerial_landuse.reporting.templates")
    html = render_change_report(
        change_summary(pairs, counts, PARAMS),
        transitions_tiles,
        transitions_km2,
        area,
        evaluate_against_truth(pairs, before, after, None, None, PARAMS),
        pairs,
        review_changes(pairs, PARAMS),
        {},
        (templates / "change.html").read_text(),
        (templates / "report.css").read_text(),
        PARAMS,
    )
    assert deep not in html and long_name in html
    assert "-0.000" not in html and 'id="cards-caption"' in html
    assert page_width(html, tmp_path) <= 1280


def test_the_change_layers_are_styled_as_the_change_map(years):
    import xml.etree.ElementTree as ET

    before, _, after, _ = years
    pairs, _, _ = match_tiles(before, after, PARAMS)
    layer = change_geopackage(pairs)
    assert layer["change"].value_counts().to_dict() == {
        "unchanged": 27,
        "changed, not confident in both years": 3,
        "became Developed": 6,
    }
    assert layer["area_m2"].iloc[0] == pytest.approx(0.2226 * 0.2219 * 1e6, rel=0.01)
    features = changed_tiles_geojson(pairs)["features"]
    assert {f["properties"]["change"] for f in features} == {"became Developed"}
    assert features[0]["properties"]["area_m2"] > 49_000  # not rounded to 0.05 km²
    gpkg_style, geojson_style = change_style(pairs)
    assert gpkg_style == geojson_style
    renderer = ET.fromstring(gpkg_style.split("\n", 1)[1]).find("renderer-v2")
    assert renderer.get("attr") == "change"
    categories = {c.get("value"): c.get("symbol") for c in renderer.iter("category")}
    assert set(layer["change"]) <= set(categories)
    symbols = {s.get("name"): s for s in renderer.iter("symbol")}

    def prop(category: str, key: str) -> str:
        return symbols[categories[category]].find(f"layer/prop[@k='{key}']").get("v")

    assert prop("unchanged", "color") == "217,217,217,255"  # light grey, as on the map
    assert prop("became Developed", "outline_style") == "solid"
    assert prop("became Forest", "outline_style") == "no"


def _on_grid(frame: pd.DataFrame, shift: int = 0) -> pd.DataFrame:
    """The region's tiles as cells of a 224 m UTM 19N grid (6 x 6 from col 1383, row 20980)."""
    rc = frame["id"].str.extract(r"_(\d+)_(\d+)\.png$").astype(int)
    ids = "32619_" + (1383 + rc[1] + shift).astype(str) + "_" + (20985 - rc[0]).astype(str)
    return frame.assign(id=ids, filename=ids, filepath=ids)


def test_two_raster_regions_match_by_cell_and_their_change_is_a_cog(years, tmp_path):
    """Cells match by id whatever their bounds say (here deliberately shifted 300 m), and the
    change raster holds from -> to codes, one code for unconfident change, the map's colours."""
    import rasterio

    from aerial_landuse.core.geometry.cell_grid import CellGrid
    from aerial_landuse.core.tiles.cog import UNCERTAIN_CHANGE, change_code, is_valid_cog
    from aerial_landuse.core.tiles.raster_region import RasterRegion
    from aerial_landuse.pipelines.change.nodes import change_rasters

    before, _, after, _ = years
    before, after = _on_grid(before), _on_grid(after).assign(llcrnrlat=after["llcrnrlat"] + 0.003)
    grid = CellGrid("EPSG:32619", 224.0, 1383, 1388, 20980, 20985)
    regions = [RasterRegion(grid, ()).to_record()] * 2
    pairs, _, counts = match_tiles(before, after.iloc[1:], PARAMS, *regions)
    assert counts["matched"] == 35 and (pairs["before_id"] == pairs["after_id"]).all()
    assert counts["match_on"] == "cell id"
    layer = change_rasters(pairs, *regions, PARAMS)["change"]
    layer.write(tmp_path / "change.tif")
    assert is_valid_cog(tmp_path / "change.tif")
    with rasterio.open(tmp_path / "change.tif") as raster:
        codes, tags, colours = raster.read(1), raster.tags(1), raster.colormap(1)
    assert (codes > 0).sum() == 35  # the cell missing in the later year is nodata
    forest_to_developed = change_code(2, 1, 3)  # Cultivated, Developed, Forest
    assert tags[f"CLASS_{forest_to_developed}"] == "Forest -> Developed"
    assert (codes == forest_to_developed).sum() == 5 and (codes == UNCERTAIN_CHANGE).sum() == 3
    assert colours[forest_to_developed][:3] == (0xEB, 0, 0)  # the later class's colour
    assert colours[change_code(2, 2, 3)][:3] == (0xD9, 0xD9, 0xD9)  # unchanged: light grey
    assert change_rasters(pairs, None, regions[1], PARAMS) == {}
    other = RasterRegion(CellGrid("EPSG:32618", 224.0, 0, 1, 0, 1), ()).to_record()
    with pytest.raises(Exception, match="different grids.*ingest.raster.crs"):
        match_tiles(before, after, PARAMS, regions[0], other)


def test_regions_whose_true_classes_are_unknown_still_get_their_figures(years):
    """A user's own regions have no true_label: the threshold figure is left out, nothing fails."""
    from aerial_landuse.pipelines.change.nodes import draw_change_figures

    before, _, after, _ = years
    pairs, _, _ = match_tiles(before, after, PARAMS)
    tiles, km2 = transition_tables(pairs)
    evaluation = evaluate_against_truth(pairs, before, after, None, None, PARAMS)
    no_review = review_changes(pairs, PARAMS).iloc[0:0]
    figures = draw_change_figures(
        pairs, tiles, km2, area_statistics(before, after, PARAMS), evaluation, no_review,
        None, None, PARAMS,
    )  # fmt: skip
    assert sorted(figures) == ["area_per_class.png", "change_map.png", "transitions.png"]
