"""Chipping cells from COG mosaics against reading the same cells as PNG tiles, side by side.

    .venv/bin/python benchmarks/raster_chipping.py [--sides 2,6] [--rounds 3] [--encodings deflate,jpeg]

For each mosaic size (``side`` x ``side`` NAIP-like quads of 1 km at 1 m with nodata collars,
overlapping by 40 m), every whole 224 m cell is read to the network's 224 x 224 input: (a) from
the COGs by the project's cell reader (window reads, warp, band choice, nodata share;
``core/tiles/raster_cells.py``), once per encoding of the same pixels: ``deflate``, 4-band
(R, G, B, NIR) with nodata 0, as NAIP's analytic quads; ``jpeg``, 3-band YCbCr JPEG with an
internal mask, as NAIP's visualization COGs and most web orthophotos; and (b) as PNG tiles cut
beforehand from the same pixels, read and decoded as the tile-folder path does
(``core/tiles/images.decode_tile``). Each measurement runs in a fresh process, alternating, and
records ms per cell and that process's peak RSS; prints the table (PNG time / COG time) and
writes JSON beside ``--workdir``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rasterio.transform import from_origin

from aerial_landuse.core.geometry.cell_grid import grid_of
from aerial_landuse.core.tiles.cog import write_cog
from aerial_landuse.core.tiles.demo_textures import LAND_USE_CLASSES, labelled_tile
from aerial_landuse.core.tiles.images import TileLimits, decode_tile
from aerial_landuse.core.tiles.raster_cells import CellReader, ChipSettings, read_source_header

CRS, LEFT, TOP = "EPSG:32619", 300_000.0, 4_700_000.0
QUAD_M, OVERLAP_M, COLLAR_PX, CELL_M, SIZE = 1000, 40, 20, 224.0, 224


ENCODINGS = {"deflate": 4, "jpeg": 3}  # COG profile (``write_cog``) -> bands written


def write_mosaic(folder: Path, side: int, encoding: str = "deflate") -> list[Path]:
    """``side`` x ``side`` quads whose pixels are demo textures (one 224 px texture per cell),
    the same pixels whatever the ``encoding``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(side)
    step = QUAD_M - OVERLAP_M
    quads = []
    for qy in range(side):
        for qx in range(side):
            left, top = LEFT + qx * step, TOP - qy * step
            pixels = np.zeros((4, QUAD_M, QUAD_M), np.uint8)
            for y in range(0, QUAD_M, SIZE):
                for x in range(0, QUAD_M, SIZE):
                    name = LAND_USE_CLASSES[int(rng.integers(len(LAND_USE_CLASSES)))]
                    tile = np.asarray(labelled_tile(rng, name, SIZE, 0.0)).transpose(2, 0, 1)
                    h, w = min(SIZE, QUAD_M - y), min(SIZE, QUAD_M - x)
                    pixels[:3, y : y + h, x : x + w] = np.maximum(tile[:, :h, :w], 1)
            pixels[3] = 200
            c = COLLAR_PX
            pixels[:, :c], pixels[:, -c:], pixels[:, :, :c], pixels[:, :, -c:] = 0, 0, 0, 0
            path = folder / f"q_{qx}_{qy}.tif"
            bands = pixels[: ENCODINGS[encoding]]
            transform = from_origin(left, top, 1.0, 1.0)
            write_cog(path, bands, CRS, transform, nodata=0, cog_profile=encoding)
            quads.append(path)
    return quads


def whole_cells(quads: list[Path]) -> tuple[list[tuple[int, int]], object, list]:
    sources = [read_source_header(str(p)) for p in quads]
    grid = grid_of(sources, CELL_M)
    cells = [
        (c, r)
        for r in range(grid.row_min + 1, grid.row_max)
        for c in range(grid.col_min + 1, grid.col_max)
    ]
    return cells, grid, sources


def cut_pngs(folder: Path, quads: list[Path]) -> list[Path]:
    """The same cells as PNG tiles (what a tile folder holds)."""
    cells, grid, sources = whole_cells(quads)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with CellReader(grid, sources, ChipSettings(SIZE, max_nodata_share=1.0)) as reader:
        for col, row in cells:
            chip = reader.read(col, row)
            path = folder / f"{col}_{row}.png"
            Image.fromarray(chip.pixels).save(path)
            paths.append(path)
    return paths


def time_cogs(quads: list[Path], queue: multiprocessing.Queue) -> None:
    cells, grid, sources = whole_cells(quads)
    start = time.perf_counter()
    with CellReader(grid, sources, ChipSettings(SIZE, max_nodata_share=1.0)) as reader:
        for col, row in cells:
            assert reader.read(col, row).pixels is not None
    queue.put(_result(len(cells), time.perf_counter() - start))


def time_pngs(paths: list[Path], queue: multiprocessing.Queue) -> None:
    limits = TileLimits(1, 100.0, 64 << 20)
    start = time.perf_counter()
    for path in paths:
        decode_tile(path.read_bytes(), SIZE, limits)
    queue.put(_result(len(paths), time.perf_counter() - start))


def _result(cells: int, seconds: float) -> dict[str, float]:
    """ms per cell and this process's own peak RSS (VmHWM: ru_maxrss would carry the parent's
    high-water mark across fork and exec)."""
    status = Path("/proc/self/status").read_text()
    peak_mb = (
        int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
        / 1024
    )
    return {"cells": cells, "ms_per_cell": 1000 * seconds / cells, "peak_rss_mb": peak_mb}


def measure(target, argument) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(argument, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", default="2,6", help="mosaic sizes, in quads per side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--encodings", default="deflate,jpeg", help=f"of {sorted(ENCODINGS)}")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "raster-bench"
    )
    args = parser.parse_args()
    encodings = args.encodings.split(",")
    rows = []
    for side in (int(s) for s in args.sides.split(",")):
        mosaics = {e: write_mosaic(args.workdir / f"cogs_{side}_{e}", side, e) for e in encodings}
        lossless = mosaics.get("deflate") or write_mosaic(args.workdir / f"cogs_{side}", side)
        pngs = cut_pngs(args.workdir / f"pngs_{side}", lossless)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in [*encodings, "png"]}
        for _ in range(args.rounds):  # alternating, each in a fresh process
            for encoding, quads in mosaics.items():
                runs[encoding].append(measure(time_cogs, quads))
            runs["png"].append(measure(time_pngs, pngs))
        best = {name: min(r, key=lambda x: x["ms_per_cell"]) for name, r in runs.items()}
        png = best["png"]
        for encoding, quads in mosaics.items():
            cog = best[encoding]
            mosaic_mb = sum(p.stat().st_size for p in quads) / 2**20
            rows.append({"quads": side * side, "encoding": encoding, "mosaic_mb": round(mosaic_mb, 1), "cells": cog["cells"],
                         "cog_ms": round(cog["ms_per_cell"], 2), "png_ms": round(png["ms_per_cell"], 2),
                         "cog_vs_png": round(png["ms_per_cell"] / cog["ms_per_cell"], 2),
                         "cog_peak_mb": round(cog["peak_rss_mb"]), "png_peak_mb": round(png["peak_rss_mb"])})  # fmt: skip
    header = (
        "| quads | COGs | COGs MB | cells | COG ms/cell | PNG ms/cell | PNG/COG time "
        "| COG peak MB | PNG peak MB |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|"] + [
        f"| {r['quads']} | {r['encoding']} | {r['mosaic_mb']} | {r['cells']} | {r['cog_ms']} | "
        f"{r['png_ms']} | **{r['cog_vs_png']}** | {r['cog_peak_mb']} | {r['png_peak_mb']} |"
        for r in rows
    ]
    print("\n".join(lines))  # noqa: T201
    out = args.workdir / "raster_chipping.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"JSON: {out}")  # noqa: T201


if __name__ == "__main__":
    main()
