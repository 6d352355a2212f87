"""A region folder of GeoTIFF/COG files (or a STAC JSON listing them), on any storage: found and
described on the driver (file headers only), read cell by cell where the cells are processed.

A region folder holds either tiles with their ``tile_summaries.csv`` (tiles cut beforehand) or
rasters, which carry their own georeferencing: ``*.tif``/``*.tiff`` mosaics, or one STAC
ItemCollection / catalog JSON (``*.json``) naming them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import PurePosixPath
from typing import IO, Any

from PIL import Image
from rasterio.abc import FileContainer

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.geometry.cell_grid import RasterSource, grid_of
from aerial_landuse.core.tiles.raster_cells import (
    CellReader,
    QuickLook,
    quick_look,
    read_source_headers,
)
from aerial_landuse.core.tiles.raster_region import RasterRegion, cell_position

from .location import Storage
from .stac import stac_asset_urls
from .tile_listing import TileFolder

RASTER_EXTENSIONS = (".tif", ".tiff")


class StorageFiles(FileContainer):
    """The files of ``storage`` as rasterio's ``opener`` (its FileContainer interface), read-only;
    picklable, so executors open the files through their own filesystem. (A plain callable
    fails rasterio's opener probe, a ``size("test")`` call, where a blob container is named
    ``test``, as the project's layout has it.)"""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[bytes]:
        return self._storage.fs.open(path, mode)

    def isfile(self, path: str) -> bool:
        return bool(self._storage.fs.isfile(path))

    def isdir(self, path: str) -> bool:
        return bool(self._storage.fs.isdir(path))

    def ls(self, path: str) -> list[str]:
        return [str(p) for p in self._storage.fs.ls(path, detail=False)]

    def mtime(self, path: str) -> int:
        try:
            return int(self._storage.fs.modified(path).timestamp())
        except (NotImplementedError, AttributeError):
            return 0

    def size(self, path: str) -> int:
        fs = self._storage.fs
        if not fs.isfile(path):  # a folder or container is no file to GDAL
            raise FileNotFoundError(path)
        return int(fs.size(path))

    def rm(self, path: str) -> None:
        raise PermissionError(f"{self._storage.uri(path)}: raster regions are read, never changed")


def rasterio_opener(storage: Storage) -> StorageFiles | None:
    """rasterio's ``opener`` for files on ``storage`` (None on local disk: GDAL reads it itself)."""
    return None if storage.protocol == "file" else StorageFiles(storage)


def region_raster_files(folder: TileFolder, stac_asset: str) -> list[str]:
    """The GeoTIFF/COG files of a region folder: those a STAC JSON in it lists (its
    ``stac_asset``), else every ``*.tif``/``*.tiff`` below it; none when it holds neither."""
    fs, root = folder.storage.fs, folder.root
    files = sorted(
        str(path)
        for path in fs.find(root)
        if not any(part.startswith(".") for part in PurePosixPath(path).relative_to(root).parts)
    )
    listings = [path for path in files if path.lower().endswith(".json")]
    if len(listings) > 1:
        raise UserInputError(
            f"{folder.storage.uri(root)} holds {len(listings)} JSON files "
            f"({', '.join(PurePosixPath(p).name for p in listings[:3])}): a raster region is listed "
            "by one STAC ItemCollection or catalog; keep one."
        )
    if listings:
        return stac_asset_urls(folder.storage, listings[0], stac_asset)
    return [path for path in files if path.lower().endswith(RASTER_EXTENSIONS)]


def labelled_raster_files(folder: TileFolder, stac_asset: str) -> list[str]:
    """The imagery of a labelled folder given as rasters: a STAC JSON or GeoTIFF/COG files at
    its top level (labelled tiles, TIFF ones too, sit one level down, in class folders); none
    for a folder of class folders."""
    if not folder.exists():
        return []
    fs, root = folder.storage.fs, folder.root.rstrip("/")
    top = [str(path) for path in fs.ls(root, detail=False)]
    if not any(
        PurePosixPath(path).suffix.lower() in (".json", *RASTER_EXTENSIONS)
        and not PurePosixPath(path).name.startswith(".")
        for path in top
    ):
        return []
    return region_raster_files(folder, stac_asset)


def read_raster_region(folder: TileFolder, urls: list[str], raster: dict[str, Any]) -> RasterRegion:
    """The region of ``urls`` as ``raster`` (the ``ingest.raster`` parameters) cuts it: each
    file's header read once here, the grid snapped to ``tile_size_m`` in ``crs`` (or the first
    file's), cut to the ``area`` of interest when one is given."""
    try:
        sources = read_source_headers(urls, rasterio_opener(folder.storage))
    except ValueError as exc:
        raise UserInputError(
            f"The raster region {folder.storage.uri(folder.root)} cannot be read: {exc}"
        ) from None
    _check_bands_and_depth(folder, sources, tuple(raster["bands"]))
    area = raster.get("area")
    grid = grid_of(
        sources, float(raster["tile_size_m"]), raster.get("crs"), tuple(area) if area else None
    )
    return RasterRegion(
        grid=grid,
        sources=tuple(sources),
        bands=tuple(raster["bands"]),  # type: ignore[arg-type]
        max_nodata_share=float(raster["max_nodata_share"]),
        resampling=raster["resampling"],
    )


VECTOR_EXTENSIONS = (".gpkg", ".geojson")


def read_label_polygons(
    folder: TileFolder | None, crs: str, class_column: str
) -> tuple[Any, Any, list[str]] | None:
    """The labelled polygons of the land_cover ``folder`` (GeoPackage / GeoJSON files, their
    first layer) in ``crs``: (geometries, their classes from ``class_column``, the files); None
    when the folder holds no such file (then it holds a land-cover raster)."""
    import geopandas as gpd
    import pandas as pd

    if folder is None or not folder.exists():
        return None
    urls = sorted(
        str(path)
        for path in folder.storage.fs.find(folder.root)
        if str(path).lower().endswith(VECTOR_EXTENSIONS)
        and not PurePosixPath(path).name.startswith(".")
    )
    if not urls:
        return None
    layers = []
    for url in urls:
        layer = gpd.read_file(io.BytesIO(folder.storage.read_bytes(url)), engine="pyogrio")
        fix = f"{folder.storage.uri(url)} (labelled polygons, catalog: land_cover)"
        if layer.crs is None:
            raise UserInputError(f"{fix} has no CRS: set it, e.g. `ogr2ogr -a_srs EPSG:4326`.")
        if class_column not in layer.columns:
            raise UserInputError(
                f"{fix} has no column {class_column!r} (ingest.land_cover.class_column) naming "
                f"each polygon's land-use class; its columns: {list(layer.columns)}."
            )
        layer = layer[layer[class_column].notna() & layer.geometry.notna()].to_crs(crs)
        layers.append(layer[[class_column, "geometry"]])
    polygons = pd.concat(layers, ignore_index=True)
    return polygons.geometry.to_numpy(), polygons[class_column].astype(str).to_numpy(), urls


def read_land_cover(
    folder: TileFolder | None, stac_asset: str, labelled: TileFolder
) -> list[RasterSource]:
    """The headers of the land-cover rasters (NLCD...) that label the cells of the ``labelled``
    raster set: the GeoTIFF/COG files of ``folder`` (or those its STAC JSON lists)."""
    where = "the land_cover folder" if folder is None else folder.storage.uri(folder.root)
    urls = region_raster_files(folder, stac_asset) if folder and folder.exists() else []
    if folder is None or not urls:
        raise UserInputError(
            f"{labelled.storage.uri(labelled.root)} holds imagery (GeoTIFF/COG) rather than class "
            f"folders, so its cells are labelled from a land-cover raster, but {where} holds "
            "none: put the land-cover GeoTIFF (e.g. NLCD) there (catalog: land_cover)."
        )
    opener = rasterio_opener(folder.storage)
    try:
        return read_source_headers(urls, opener)
    except ValueError as exc:
        raise UserInputError(f"The land-cover raster in {where} cannot be read: {exc}") from None


def _check_bands_and_depth(
    folder: TileFolder, sources: list[RasterSource], bands: tuple[int, ...]
) -> None:
    """Every file 8-bit, with the same bands, among them those asked for; else the fix."""
    where = folder.storage.uri(folder.root)
    for source in sources:
        if source.dtype != "uint8":
            raise UserInputError(
                f"{source.url} (raster region {where}) holds {source.dtype} pixels; 8-bit imagery "
                "(NAIP's) is read as is: convert it with `gdal_translate -ot Byte -scale`."
            )
        if source.band_count < max(bands):
            raise UserInputError(
                f"{source.url} (raster region {where}) has {source.band_count} band(s) but "
                f"ingest.raster.bands asks for {list(bands)}: choose bands it has."
            )
    counts = {source.band_count: source.url for source in sources}
    if len(counts) > 1:
        shown = ", ".join(f"{url} has {n}" for n, url in sorted(counts.items()))
        raise UserInputError(
            f"The raster region {where} mixes band counts ({shown}): band numbers would mean "
            "different things in different files; keep files of one product in a region."
        )


class CellImages(Mapping[str, Callable[[], Image.Image]]):
    """Each cell's lazy image loader by cell id, as ``TileFolder.image_loaders`` gives tiles':
    for the few cells a report shows (galleries, review sheet), read at ``size`` pixels."""

    def __init__(self, region: RasterRegion, storage: Storage, cells: list[str], size: int = 224):
        self._region, self._storage, self._cells, self._size = region, storage, cells, size

    def __getitem__(self, cell: str) -> Callable[[], Image.Image]:
        if cell not in self._cells:
            raise KeyError(cell)
        return partial(self._read, cell)

    def __iter__(self) -> Iterator[str]:
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)

    def _read(self, cell: str) -> Image.Image:
        region = self._region
        settings = region.chip_settings(self._size)
        reader = CellReader(
            region.grid, list(region.sources), settings, rasterio_opener(self._storage)
        )
        with reader:
            chip = reader.read(*cell_position(cell))
        if chip.pixels is None:
            raise OSError(f"cell {cell}: {chip.error}")
        return Image.fromarray(chip.pixels)


class CellSource:
    """The cells of a raster region as a ``TileSource`` (``read_bytes(cell id)``: the cell's chip,
    ``size`` pixels a side, as PNG), so that code which reads tiles by path (fine-tuning) reads
    cells; picklable: executors read the windows themselves, each process with one reader (its
    files opened once for all the cells it reads)."""

    def __init__(self, region: RasterRegion, storage: Storage, size: int) -> None:
        self._region, self._storage, self._size = region, storage, size
        self._open_reader: CellReader | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_open_reader": None}  # open files stay in their process

    @property
    def fs(self) -> Any:
        return self._storage.fs

    def _new_reader(self) -> CellReader:
        region = self._region
        settings = region.chip_settings(self._size)
        return CellReader(
            region.grid, list(region.sources), settings, rasterio_opener(self._storage)
        )

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        if self._open_reader is None:
            self._open_reader = self._new_reader()
        chip = self._open_reader.read(*cell_position(path))
        if chip.pixels is None:
            raise OSError(f"cell {path}: {chip.error}")
        buffer = io.BytesIO()
        Image.fromarray(chip.pixels).save(buffer, format="PNG")
        return buffer.getvalue()

    def unreadable(self, cells: list[str]) -> dict[str, str]:
        """The ``cells`` whose chips cannot be read (more nodata than ``max_nodata_share``, a
        file error), with the reason, as featurize would quarantine them."""
        with self._new_reader() as reader:
            chips = {cell: reader.read(*cell_position(cell)) for cell in cells}
        return {cell: str(chip.error) for cell, chip in chips.items() if chip.pixels is None}


def region_images(
    tiles: TileFolder, raster_region: dict[str, Any] | None, ids: list[str]
) -> Mapping[str, Callable[[], Image.Image]]:
    """Each scored tile's (or, in a raster region, cell's) lazy image loader by id."""
    region = RasterRegion.from_record(raster_region)
    if region is None:
        return tiles.image_loaders()
    return CellImages(region, tiles.storage, ids)


def region_quick_look(
    tiles: TileFolder, raster_region: dict[str, Any] | None, max_px: int = 1200
) -> QuickLook | None:
    """A raster region's imagery at most ``max_px`` pixels a side (None for a tile region)."""
    region = RasterRegion.from_record(raster_region)
    if region is None:
        return None
    opener = rasterio_opener(tiles.storage)
    return quick_look(region.grid, list(region.sources), region.bands, max_px, opener)


AREA_FILE = "area_of_interest.gpkg"  # a region's optional polygon layer (catalog: area_of_interest)


def area_outline(area: Any, crs: str, folder: TileFolder) -> Any:
    """The polygons of an area-of-interest layer (a GeoDataFrame: a county boundary...) as one
    shapely geometry in ``crs``; a layer without a CRS or without a polygon is refused."""
    import shapely

    where = f"{folder.storage.uri(folder.root)}/{AREA_FILE} (catalog: area_of_interest)"
    if area.crs is None:
        raise UserInputError(
            f"The area of interest {where} has no CRS, so it cannot be laid on the grid: set "
            "it, e.g. `ogr2ogr -a_srs EPSG:4326 fixed.gpkg area_of_interest.gpkg`."
        )
    shapes = area.to_crs(crs).geometry
    shapes = shapes[shapes.notna() & ~shapes.is_empty]
    shapes = shapes[shapes.geom_type.isin(["Polygon", "MultiPolygon"])]
    if shapes.empty:
        raise UserInputError(
            f"The area of interest {where} holds no polygon: give the area's outline (e.g. a "
            "county boundary) as polygons, or remove the file to score the whole region."
        )
    return shapely.union_all(shapely.make_valid(shapes.to_numpy()))
