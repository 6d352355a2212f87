"""Region files listed by STAC: an ItemCollection (a saved search) and a static catalog, with
relative and absolute asset hrefs; a missing asset or an empty listing says what to fix."""

from __future__ import annotations

import datetime as dt
import json

import pystac
import pytest

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.storage import Storage
from aerial_landuse.storage.stac import stac_asset_urls


def _item(name: str, href: str, asset: str = "image") -> pystac.Item:
    item = pystac.Item(
        name, {"type": "Point", "coordinates": [-71.0, 42.4]}, [-71.0, 42.4, -71.0, 42.4],
        dt.datetime(2021, 7, 1, tzinfo=dt.UTC), {},
    )  # fmt: skip
    item.add_asset(asset, pystac.Asset(href, media_type=pystac.MediaType.COG))
    return item


def test_an_item_collection_lists_its_assets_relative_to_the_file(tmp_path):
    items = pystac.ItemCollection([_item("west", "west.tif"), _item("east", "/data/east.tif")])
    (tmp_path / "items.json").write_text(json.dumps(items.to_dict()))
    urls = stac_asset_urls(Storage(), str(tmp_path / "items.json"))
    assert urls == [str(tmp_path / "west.tif"), "/data/east.tif"]


def test_a_static_catalog_lists_every_item_below_it(tmp_path):
    catalog = pystac.Catalog("naip", "NAIP quarter quads")
    collection = pystac.Collection(
        "2021", "one year", pystac.Extent(pystac.SpatialExtent([[-72, 42, -70, 43]]),
                                          pystac.TemporalExtent([[None, None]])),
    )  # fmt: skip
    catalog.add_child(collection)
    for name in ("a", "b"):
        collection.add_item(_item(name, f"../../{name}.tif"))
    catalog.normalize_hrefs(str(tmp_path / "stac"))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    urls = stac_asset_urls(Storage(), str(tmp_path / "stac" / "catalog.json"))
    # each item sits at stac/2021/<name>/<name>.json: ../../ is the catalog's folder
    assert sorted(urls) == [str(tmp_path / "stac" / f"{name}.tif") for name in ("a", "b")]


def test_items_without_the_asset_and_empty_listings_are_refused(tmp_path):
    items = pystac.ItemCollection([_item("x", "x.tif", asset="visual")])
    (tmp_path / "items.json").write_text(json.dumps(items.to_dict()))
    with pytest.raises(
        UserInputError, match=r"items \['x'\] have no 'image' asset.*raster.stac_asset"
    ):
        stac_asset_urls(Storage(), str(tmp_path / "items.json"))
    assert stac_asset_urls(Storage(), str(tmp_path / "items.json"), asset="visual")
    (tmp_path / "empty.json").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(UserInputError, match="lists no item"):
        stac_asset_urls(Storage(), str(tmp_path / "empty.json"))
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(UserInputError, match="neither a STAC ItemCollection nor a STAC catalog"):
        stac_asset_urls(Storage(), str(tmp_path / "other.json"))
