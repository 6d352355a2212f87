"""The GeoTIFF/COG files of a region listed by STAC: an ItemCollection (what a STAC API search
returns, saved as JSON) or a static catalog, read with pystac through the region's own fsspec
filesystem, so the JSON may sit on local disk or blob storage beside the imagery.

Online users make the JSON with pystac-client, e.g. NAIP quarter quads of a county from
Planetary Computer (docs/rasters.md)::

    Client.open(url).search(collections=["naip"], bbox=..., datetime="2021").item_collection()
        .save_object("data/01_raw/middlesex2021/items.json")
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from aerial_landuse.core.errors import UserInputError

from .location import Storage


def stac_asset_urls(storage: Storage, href: str, asset: str = "image") -> list[str]:
    """The href of ``asset`` of every item listed by the STAC JSON at ``href`` (absolute, in
    item order), or a ``UserInputError`` naming the file and what is missing."""
    import pystac

    io = _stac_io(storage)
    document = json.loads(io.read_text(href))
    if document.get("type") == "FeatureCollection":
        items = list(pystac.ItemCollection.from_dict(document, root=None).items)
        base = posixpath.dirname(href)
        urls = [_absolute(item.assets.get(asset), base) for item in items]
    elif document.get("type") == "Catalog" or "links" in document:
        catalog = pystac.Catalog.from_file(href, stac_io=io)
        items = list(catalog.get_items(recursive=True))
        urls = [_asset_href(item, asset) for item in items]
    else:
        raise UserInputError(
            f"{storage.uri(href)} is neither a STAC ItemCollection nor a STAC catalog."
        )
    missing = [item.id for item, url in zip(items, urls, strict=True) if url is None]
    if missing or not items:
        raise UserInputError(
            f"{storage.uri(href)}: "
            + (f"items {missing[:5]} have no '{asset}' asset" if missing else "lists no item")
            + " (raster.stac_asset names the asset that holds the imagery; NAIP's is 'image')."
        )
    return [url for url in urls if url is not None]


def _asset_href(item: Any, asset: str) -> str | None:
    found = item.assets.get(asset)
    return found.get_absolute_href() if found is not None else None


def _absolute(found: Any, base: str) -> str | None:
    if found is None:
        return None
    href = found.href
    return href if "://" in href or href.startswith("/") else posixpath.join(base, href)


def _stac_io(storage: Storage) -> Any:
    """pystac's StacIO reading through ``storage``'s fsspec filesystem (local disk, abfs, wasbs)."""
    from pystac.stac_io import DefaultStacIO

    class FsspecStacIO(DefaultStacIO):
        def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
            return storage.fs.cat_file(str(source)).decode("utf-8")

        def write_text(self, dest: Any, txt: str, *args: Any, **kwargs: Any) -> None:
            raise PermissionError("STAC catalogs are read here, never written")

    return FsspecStacIO()
