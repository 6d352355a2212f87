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

``--header-latency-ms L`` times reading the headers of the last mosaic's files one and eight
at a time, through an opener that waits L ms per request (a blob store over the network).

``--pipeline-side S`` adds the product's own path for the cells of an S x S mosaic: each
encoding's COGs, and the PNG tiles with their ``tile_summaries.csv``, as a region of a scratch
project (``tools/bench.scratch_project``), listed (ingest) and featurized by the network
(``--network-file``, efficientnet_lite0) on local Spark in one process, alternating; seconds per
1,000 cells of each pipeline and of both together.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import shutil
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
from aerial_landuse.core.tiles.raster_cells import (
    HEADER_THREADS,
    CellReader,
    ChipSettings,
    read_source_header,
    read_source_headers,
)

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


def inner_area(quads: list[Path]) -> list[float]:
    """[left, bottom, right, top] of the whole cells (``whole_cells``), 1 m inside their edges."""
    cells, grid, _ = whole_cells(quads)
    (left, bottom, _, _), (_, _, right, top) = grid.bounds(*cells[0]), grid.bounds(*cells[-1])
    return [left + 1, bottom + 1, right - 1, top - 1]


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


def mosaics_and_pngs(
    workdir: Path, side: int, encodings: list[str]
) -> tuple[dict[str, list[Path]], list[Path], list[Path]]:
    """A ``side`` x ``side`` mosaic per encoding, the lossless one (deflate), and its whole
    cells cut as PNG tiles."""
    mosaics = {e: write_mosaic(workdir / f"cogs_{side}_{e}", side, e) for e in encodings}
    lossless = mosaics.get("deflate") or write_mosaic(workdir / f"cogs_{side}", side)
    return mosaics, lossless, cut_pngs(workdir / f"pngs_{side}", lossless)


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


class _DelayedFile(io.FileIO):
    """A local file whose every read waits ``delay`` seconds first, as a request to a remote
    store does (the wait releases the GIL, as network I/O does)."""

    def __init__(self, path: str, delay: float) -> None:
        super().__init__(path, "rb")
        self.delay = delay

    def read(self, size: int = -1) -> bytes:
        time.sleep(self.delay)
        return super().read(size)

    def readinto(self, buffer) -> int:
        time.sleep(self.delay)
        return super().readinto(buffer)


def header_rows(quads: list[Path], latency_ms: float) -> list[str]:
    """Seconds to read the headers of ``quads`` one and eight at a time, ``latency_ms`` a request."""

    def opener(path: str, mode: str = "rb") -> _DelayedFile:
        return _DelayedFile(path, latency_ms / 1000)

    urls = [str(path) for path in quads]
    lines = []
    for threads in (1, HEADER_THREADS):
        start = time.perf_counter()
        read_source_headers(urls, opener, threads)
        lines.append(
            f"{len(urls)} headers, {latency_ms:g} ms per request, {threads} at a time: "
            f"{time.perf_counter() - start:.2f} s"
        )
    return lines


def region_folders(project: Path, mosaics: dict[str, list[Path]], pngs: list[Path]) -> list[str]:
    """One region of ``project`` per encoding (its COGs) and one of the PNG tiles (with their
    tile_summaries.csv), as hard links; their names."""
    from aerial_landuse.tools.bench import link_tiles, tile_summaries

    raw = project / "data" / "01_raw"
    folders = {**{f"cogs-{e}": quads for e, quads in mosaics.items()}, "png-tiles": pngs}
    for name, files in folders.items():
        shutil.rmtree(raw / name, ignore_errors=True)
        link_tiles(raw / name, files, files[0].parent)
    tile_summaries(pngs).to_csv(raw / "png-tiles" / "tile_summaries.csv", index=False)
    return list(folders)


def time_pipelines(
    project: Path, regions: list[str], network: str, area: list[float], rounds: int
) -> dict[str, dict[str, float]]:
    """Seconds per 1,000 cells of ingest (listing: the grid, or the tiles and their headers) and
    of featurize, for each region (rasters clipped to ``area``: the PNG tiles' cells): the best
    of ``rounds``, alternating, in one Spark session."""
    from aerial_landuse.tools.bench import kedro_phase, start_spark

    start_spark(project)  # the JVM's start is not a region's
    runs: dict[str, list[dict[str, float]]] = {region: [] for region in regions}
    for _ in range(rounds):
        for region in regions:
            for produced in ("02_intermediate", "04_feature"):  # each round from scratch
                shutil.rmtree(project / "data" / produced, ignore_errors=True)
            params = {
                "region": region,
                "pretrained_model": network,
                "ingest": {"raster": {"area": area}},
            }
            with contextlib.chdir(project):
                ingest = kedro_phase(project, "ingest", ["score"], params)["seconds"]
                featurize = kedro_phase(project, "featurize", ["score"], params)["seconds"]
            runs[region].append(
                {"cells": _featurized(project, region), "ingest": ingest, "featurize": featurize}
            )
    table = {}
    for region, tries in runs.items():
        run = min(tries, key=lambda r: r["ingest"] + r["featurize"])
        per_1000 = 1000 / run["cells"]
        table[region] = {
            "cells": run["cells"],
            "ingest_s_per_1000": round(run["ingest"] * per_1000, 2),
            "featurize_s_per_1000": round(run["featurize"] * per_1000, 2),
            "both_s_per_1000": round((run["ingest"] + run["featurize"]) * per_1000, 2),
        }
    return table


def _featurized(project: Path, region: str) -> int:
    """The region's featurized cells, from its featurize summary."""
    (summary,) = project.glob(f"data/04_feature/regions/{region}/*/summary.json")
    return int(json.loads(summary.read_text())["score"]["featurized"])


def pipeline_rows(args: argparse.Namespace, encodings: list[str]) -> list[str]:
    """The product's path (ingest + featurize) on the cells of a ``--pipeline-side`` mosaic
    (Kedro imported here: the chipping processes measure the reader alone)."""
    from aerial_landuse.tools.bench import add_network, scratch_project

    network_file = args.network_file
    mosaics, lossless, pngs = mosaics_and_pngs(args.workdir, args.pipeline_side, encodings)
    project = scratch_project(args.workdir)
    add_network(project, network_file)
    regions = region_folders(project, mosaics, pngs)
    times = time_pipelines(project, regions, network_file.stem, inner_area(lossless), args.rounds)
    if len({row["cells"] for row in times.values()}) != 1:
        raise RuntimeError(f"The regions featurized different cells: {times}")
    png = times["png-tiles"]["both_s_per_1000"]
    lines = [
        "| region | cells | ingest s/1000 cells | featurize s/1000 cells | both | PNG/region time |",
        "|---|---|---|---|---|---|",
    ]
    for region, row in times.items():
        lines.append(
            f"| {region} | {row['cells']} | {row['ingest_s_per_1000']} | "
            f"{row['featurize_s_per_1000']} | {row['both_s_per_1000']} | "
            f"**{png / row['both_s_per_1000']:.2f}** |"
        )
    (args.workdir / "raster_pipelines.json").write_text(json.dumps(times, indent=2))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", default="2,6", help="mosaic sizes, in quads per side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--encodings", default="deflate,jpeg", help=f"of {sorted(ENCODINGS)}")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "raster-bench"
    )
    parser.add_argument("--header-latency-ms", type=float, default=0, help="L: header reads")
    parser.add_argument("--pipeline-side", type=int, default=0, help="S: pipelines on S x S quads")
    parser.add_argument(
        "--network-file", type=Path, default=None, help="default: data/06_models/pretrained/"
    )
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    if args.pipeline_side:  # the network the pipelines need, or the way to make it, before any work
        from aerial_landuse.tools.bench import exported_network

        args.network_file = exported_network(args.network_file, "efficientnet_lite0")
    encodings = args.encodings.split(",")
    rows, mosaics = [], {}
    for side in (int(s) for s in args.sides.split(",") if s):
        mosaics, lossless, pngs = mosaics_and_pngs(args.workdir, side, encodings)
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
    if args.header_latency_ms and mosaics:
        print("\n".join(header_rows(next(iter(mosaics.values())), args.header_latency_ms)))  # noqa: T201
    if args.pipeline_side:
        print("\n".join(pipeline_rows(args, encodings)))  # noqa: T201
    out = args.workdir / "raster_chipping.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"JSON: {out}")  # noqa: T201


if __name__ == "__main__":
    main()
