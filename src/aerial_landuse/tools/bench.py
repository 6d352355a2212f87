"""Featurize throughput benchmark: the network alone, a plain loop, and the Kedro pipelines.

    python -m aerial_landuse.tools.bench                      # N = 2,000 generated 224 px PNG tiles
    python -m aerial_landuse.tools.bench --tiles 1000,4000,16000   # scaling table
    python -m aerial_landuse.tools.bench --tiles none --region-tiles 67600   # `make bench-region`

For each N, side by side in one process tree: (a) onnxruntime's forward pass alone at its best
batch size and thread count, (b) a plain single-process loop of read + decode + forward, (c) the
featurize pipeline on local Spark (tile index to Parquet) and (d) the score pipeline end to end
(list, probe, featurize, apply the model, write Parquet and CSV). Prints images/s, c/a, c/b,
d/a and peak memory (PSS) of the driver, the JVM and Spark's Python workers; writes JSON.
The pipelines run in a scratch copy of this project's conf under ``--workdir``, so data/ is
untouched; the tiles (synthetic, from the demo textures) are generated once and reused.

``--region-tiles M``: a region of M tiles (the scenario's county is 67,600) scored and reported
by a model trained on ``--train-tiles`` of them (or on the last N's): wall time of the score and
report pipelines, peak memory of all processes together, sizes of the report and GIS layers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import multiprocessing
import os
import platform
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import yaml
from PIL import Image
from tqdm import tqdm

from aerial_landuse.core.inference import new_session
from aerial_landuse.core.networks.onnx_graphs import (
    INPUT_NAME,
    NETWORK_INPUT,
    normalise,
    read_onnx_network,
)
from aerial_landuse.core.networks.registry import NetworkSpec
from aerial_landuse.core.tiles.demo_textures import LAND_USE_CLASSES, labelled_tile
from aerial_landuse.core.tiles.images import decode_tile
from aerial_landuse.tools import kedro_session, project_root

logger = logging.getLogger(__name__)

TILE_SIZE = 224
FORWARD_BATCHES = (8, 16, 32, 64)
TRACKED_OFF = [  # pipelines whose runs open no MLflow run
    "ingest",
    "featurize",
    "train",
    "evaluate",
    "score",
    "report",
    "pretrained",
    "demo_data",
]
REGION = "middlesexma2016"  # the scratch project's default region (conf/base/globals.yml)
LAYERS = ("report.html", "land_use.geojson", "land_use.gpkg")  # sizes the region case reports


# ---- tiles ------------------------------------------------------------------------------------
def tile_name(i: int) -> str:
    """The i-th tile of the benchmark set: classes in turn, so every prefix is balanced."""
    label = LAND_USE_CLASSES[i % len(LAND_USE_CLASSES)]
    return f"{label}/{label.lower()}_{i // len(LAND_USE_CLASSES):05d}.png"


def _render(args: tuple[Path, int]) -> None:
    root, i = args
    label = LAND_USE_CLASSES[i % len(LAND_USE_CLASSES)]
    pixels = labelled_tile(np.random.default_rng([2026, i]), label, TILE_SIZE, 0.25)
    target = root / tile_name(i)
    partial = target.with_suffix(".part")
    Image.fromarray(pixels).save(partial, format="PNG")
    partial.rename(target)


def ensure_tiles(root: Path, n: int, workers: int) -> list[Path]:
    """The first ``n`` benchmark tiles under ``root``, rendering the missing ones in parallel."""
    for label in LAND_USE_CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
    missing = [(root, i) for i in range(n) if not (root / tile_name(i)).exists()]
    if missing:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            work = pool.map(_render, missing, chunksize=16)
            for _ in tqdm(work, total=len(missing), desc="Generating tiles", unit="tile"):
                pass
    return [root / tile_name(i) for i in range(n)]


# ---- memory -----------------------------------------------------------------------------------
def _pss(process: psutil.Process) -> int:
    """Proportional set size: pages shared by forked workers are split, so sums are honest."""
    try:
        info = process.memory_full_info()
        return int(getattr(info, "pss", info.rss))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def _kind(process: psutil.Process) -> str | None:
    """``jvm``, ``python_workers`` (Spark's), or None for another child of the driver."""
    try:
        name = process.name()
    except psutil.NoSuchProcess:
        return None
    if name.startswith("java"):
        return "jvm"
    return "python_workers" if name.startswith("python") else None


PARTS = ("driver_python", "jvm", "python_workers")


def _watched(root: psutil.Process) -> list[tuple[str, psutil.Process]]:
    """(part, process) for ``root`` (the driver), its JVM and Spark's Python workers (the executors)."""
    parts = [("driver_python", root)]
    for child in root.children(recursive=True):
        kind = _kind(child)
        if kind is not None:
            parts.append((kind, child))
    return parts


def memory_snapshot(
    root: psutil.Process, size: Callable[[psutil.Process], int] | None = None
) -> dict[str, int]:
    """Bytes held by ``root`` (the driver), its JVM and Spark's Python workers (the executors),
    each process measured by ``size`` (PSS by default)."""
    return _memory_of(_watched(root), size or _pss)


def _memory_of(
    processes: list[tuple[str, psutil.Process]], size: Callable[[psutil.Process], int]
) -> dict[str, int]:
    parts = dict.fromkeys(PARTS, 0)
    for kind, process in processes:
        parts[kind] += size(process)
    return {**parts, "all_processes": sum(parts.values())}


def _cpu_seconds(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return times.user + times.system


@dataclass
class ProcessWatch:
    """The peak PSS and the CPU seconds of each part (driver, JVM, Spark's Python workers), watched
    from a thread. PSS costs the kernel a walk of each process's page tables (about 40 ms for the
    driver, a 6 GB JVM and its workers: sampled every 0.2 s, that took 8 % off the featurize job
    it measured). So the cheap RSS total is checked every ``interval`` s, and PSS is sampled when
    that total reaches a new high, at most every ``pss_interval`` s, and at the start and end.
    CPU seconds are each process's since the start (or since it began, if later): where two
    cores' time went, beside the network's own share."""

    interval: float = 0.2
    pss_interval: float = 1.0
    peak: dict[str, int] = field(default_factory=dict)
    _cpu: dict[int, tuple[str, float, float]] = field(default_factory=dict)  # pid: part, from, to
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self, me: psutil.Process) -> None:
        for key, value in memory_snapshot(me).items():
            self.peak[key] = max(self.peak.get(key, 0), value)

    def _count_cpu(self, processes: list[tuple[str, psutil.Process]], started: float) -> None:
        for kind, process in processes:
            seconds = _cpu_seconds(process)
            if seconds is None:
                continue
            if process.pid not in self._cpu:
                born_after = process.create_time() > started
                self._cpu[process.pid] = (kind, 0.0 if born_after else seconds, seconds)
            self._cpu[process.pid] = (*self._cpu[process.pid][:2], seconds)

    def _loop(self, me: psutil.Process, started: float) -> None:
        sampled_at = time.monotonic()
        highest_rss = _memory_of(_watched(me), _rss)["all_processes"]
        self._sample(me)
        while not self._stop.wait(self.interval):
            processes = _watched(me)
            self._count_cpu(processes, started)
            rss = _memory_of(processes, _rss)["all_processes"]
            if rss > highest_rss and time.monotonic() - sampled_at >= self.pss_interval:
                self._sample(me)
                sampled_at, highest_rss = time.monotonic(), rss
        self._count_cpu(_watched(me), started)
        self._sample(me)

    @contextmanager
    def watching(self) -> Iterator[ProcessWatch]:
        me, started = psutil.Process(), time.time()
        self._count_cpu(_watched(me), started)  # the baseline, before the watched work starts
        thread = threading.Thread(target=self._loop, args=(me, started), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()

    def megabytes(self) -> dict[str, float]:
        return {key: round(value / 2**20, 1) for key, value in self.peak.items()}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) of each part while watched."""
        totals = dict.fromkeys(PARTS, 0.0)
        for kind, first, last in self._cpu.values():
            totals[kind] += last - first
        return {key: round(value, 2) for key, value in totals.items()}


# ---- (a) and (b): onnxruntime in one process ---------------------------------------------------
def _decoded(paths: list[str], size: int) -> np.ndarray:
    """The tiles at ``paths`` decoded as the pipeline decodes them, stacked (uint8 NHWC)."""
    return np.stack([decode_tile(Path(p).read_bytes(), size) for p in paths])


def _forward_rate(session: Any, images: np.ndarray, batch: int, seconds: float) -> float:
    session.run(None, {INPUT_NAME: images[:batch]})
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for first in range(0, len(images) - batch + 1, batch):
            session.run(None, {INPUT_NAME: images[first : first + batch]})
            done += batch
    return done / (time.perf_counter() - start)


def decode_cost(paths: list[str]) -> float:
    """Seconds of one core to read and decode one tile (mean over up to 256 tiles)."""
    sample = paths[:256]
    start = time.perf_counter()
    _decoded(sample, TILE_SIZE)
    return (time.perf_counter() - start) / len(sample)


def network_alone(model: bytes, paths: list[str], seconds: float) -> dict[str, Any]:
    """(a) Forward passes over decoded tiles held in memory, for each batch size and thread count."""
    images = _decoded(paths[:256], TILE_SIZE)
    cores = os.cpu_count() or 1
    table = []
    for threads in sorted({1, cores}):
        session = new_session(model, threads)
        for batch in FORWARD_BATCHES:
            rate = _forward_rate(session, images, batch, seconds)
            table.append({"threads": threads, "batch_size": batch, "images_per_second": rate})
    best = max(table, key=lambda row: row["images_per_second"])
    return {**best, "table": table}


def _plain_batch(paths: list[str], spec: NetworkSpec) -> dict[str, np.ndarray]:
    """What a plain script does: Pillow decode and resize, numpy normalise, float NCHW input."""
    images = []
    for path in paths:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((spec.image_size,) * 2, Image.BILINEAR)
            images.append(np.asarray(rgb))
    return {NETWORK_INPUT: normalise(np.stack(images), spec)}


def _tuned_batch(paths: list[str], spec: NetworkSpec) -> dict[str, np.ndarray]:
    """This project's decoding (imagecodecs for PNG) into the uint8 graph that normalises."""
    return {INPUT_NAME: _decoded(paths, spec.image_size)}


def timed_loop(
    model: bytes, paths: list[str], batch: int, threads: int, make_batch: Any, spec
) -> dict:
    """One process, one Python thread: read + decode a batch, then infer it, batch after batch."""
    session = new_session(model, threads)
    start = time.perf_counter()
    for first in range(0, len(paths), batch):
        session.run(None, make_batch(paths[first : first + batch], spec))
    seconds = time.perf_counter() - start
    return {"tiles": len(paths), "seconds": seconds, "images_per_second": len(paths) / seconds}


def single_process_baselines(network_file: str, paths: list[str], seconds: float) -> dict:
    """(a), then (b) with (a)'s best settings: the plain loop (the target's b) and this project's
    decoding in the same loop; in a child process so the driver's memory stays clean."""
    network = read_onnx_network(Path(network_file).read_bytes())
    alone = network_alone(network.uint8_bytes, paths, seconds)
    best = alone["batch_size"], alone["threads"]
    plain = timed_loop(network.onnx_bytes, paths, *best, _plain_batch, network.spec)
    tuned = timed_loop(network.uint8_bytes, paths, *best, _tuned_batch, network.spec)
    return {
        "network_alone": alone,
        "plain_loop": plain,
        "tuned_loop": tuned,
        "decode_seconds_per_tile": decode_cost(paths),
    }


def decode_bound(limit: float, decode_seconds: float, cores: int) -> float:
    """The best c/a any pipeline can reach when decoding shares the cores with inference:
    forward and decode both done, perfectly overlapped, nothing else: 1 / (1 + a * t_decode / cores)."""
    return 1.0 / (1.0 + limit * decode_seconds / cores)


def run_baselines(network_file: Path, paths: list[Path], seconds: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        job = pool.submit(
            single_process_baselines, str(network_file), [str(p) for p in paths], seconds
        )
        return job.result()


# ---- (c) and (d): the Kedro pipelines -----------------------------------------------------------
def scratch_project(workdir: Path) -> Path:
    """A copy of this project's conf (MLflow tracking off) under ``workdir``; data/ is its own."""
    project = workdir / "project"
    shutil.rmtree(project / "conf", ignore_errors=True)  # always today's conf
    shutil.copytree(
        project_root() / "conf",
        project / "conf",
        ignore=shutil.ignore_patterns("local", "*credentials*"),
    )
    shutil.copy(project_root() / "conf" / "base" / "credentials.yml", project / "conf" / "base")
    (project / "conf" / "local").mkdir()
    _tracking_off(project)
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(project_root() / name, project / name)
    if not (project / ".jars").exists():
        (project / ".jars").symlink_to(project_root() / ".jars")
    (project / "src").mkdir(exist_ok=True)  # Kedro wants one; the package runs installed
    return project


def fill_data(
    project: Path,
    tiles: list[Path],
    tile_root: Path,
    network_file: Path,
    labelled: list[Path] | None = None,
) -> None:
    """Fresh data/ whose score folder holds exactly ``tiles`` and whose labelled folder holds
    ``labelled`` (default: the same tiles), as hard links."""
    if (project / "data").exists():
        shutil.rmtree(project / "data")
    link_tiles(project / "data" / "01_raw" / "train", labelled or tiles, tile_root)
    fill_region(project, tiles, tile_root)
    add_network(project, network_file)


def add_network(project: Path, network_file: Path) -> None:
    """The pretrained network file where ``project``'s catalog finds it."""
    pretrained = project / "data" / "06_models" / "pretrained"
    pretrained.mkdir(parents=True, exist_ok=True)
    shutil.copy(network_file, pretrained / network_file.name)


def fill_region(project: Path, tiles: list[Path], tile_root: Path) -> None:
    """The score folder (the region) holds exactly ``tiles``, with their tile_summaries.csv."""
    folder = project / "data" / "01_raw" / REGION
    shutil.rmtree(folder, ignore_errors=True)
    link_tiles(folder, tiles, tile_root)
    tile_summaries(tiles).to_csv(folder / "tile_summaries.csv", index=False)


def link_tiles(folder: Path, tiles: list[Path], tile_root: Path) -> None:
    folder.mkdir(parents=True)
    for tile in tiles:
        target = folder / tile.relative_to(tile_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(tile, target)


def _tracking_off(project: Path) -> None:
    """No MLflow runs for benchmark runs (conf/local overrides base's tracking section)."""
    config = yaml.safe_load((project_root() / "conf" / "base" / "mlflow.yml").read_text())
    config["tracking"]["disable_tracking"]["pipelines"] = TRACKED_OFF
    (project / "conf" / "local" / "mlflow.yml").write_text(
        yaml.safe_dump({"tracking": config["tracking"]})
    )


def tile_summaries(tiles: list[Path]) -> pd.DataFrame:
    """A square grid of bounds, one cell per tile (the score pipeline maps tiles by them)."""
    cols = math.ceil(math.sqrt(len(tiles)))
    step = 0.0025
    rows = []
    for i, tile in enumerate(tiles):
        lat, lon = 42.0 + (i // cols) * step, -71.5 + (i % cols) * step
        rows.append((tile.name, lat, lon, lat + step, lon + step))
    return pd.DataFrame(
        rows, columns=["filename", "llcrnrlat", "llcrnrlon", "urcrnrlat", "urcrnrlon"]
    )


def kedro_phase(project: Path, pipeline: str, tags: list[str] | None, params: dict) -> dict:
    """Wall time, peak memory and CPU seconds of ``kedro run --pipelines=<pipeline>`` inside this
    process."""
    with kedro_session(project, runtime_params=params) as session:
        with ProcessWatch().watching() as watch:
            start = time.perf_counter()
            session.run(pipeline_names=[pipeline], tags=tags)
            seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_memory_mb": watch.megabytes(),
        "cpu_seconds": watch.cpu_seconds(),
    }


def catalog_entries(project: Path, params: dict, names: list[str]) -> list[Any]:
    """Catalog entries as the runs wrote them: their paths are the catalog's, not the benchmark's."""
    from kedro.framework.session import KedroSession

    with KedroSession.create(project_path=project, runtime_params=params) as session:
        catalog = session.load_context().catalog
        return [catalog.load(name) for name in names]


def bench_params(network: str) -> dict[str, Any]:
    """The runs' parameters: a quarter of the labelled tiles tested, the classifier's given
    hyperparameters (what is timed is featurizing and scoring, not the search)."""
    return {
        "ingest": {"test_fraction": 0.25},
        "train": {"preset": "as_given"},
        "pretrained_model": network,
    }


def pipeline_phases(project: Path, network: str, n: int) -> dict[str, Any]:
    """Ingest (untimed), (c) featurize, train (untimed), (d) score, with their tile counts."""
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    params = bench_params(network)
    with contextlib.chdir(project):  # back in the caller's folder for the next N
        kedro_phase(project, "ingest", ["labelled"], params)
        featurize = kedro_phase(project, "featurize", ["labelled"], params)
        kedro_phase(project, "train", None, params)
        score = kedro_phase(project, "score", None, params)
        counts, scored = catalog_entries(
            project, params, ["featurize_summary_labelled", "featurize_summary_score"]
        )
    labelled = sum(row["featurized"] for row in counts.values() if isinstance(row, dict))
    if labelled != n or scored["score"]["featurized"] != n:
        raise RuntimeError(f"Benchmark runs lost tiles: {counts}, {scored}")
    return {
        "featurize": {**featurize, "images_per_second": n / featurize["seconds"]},
        "score": {**score, "images_per_second": n / score["seconds"]},
    }


# ---- region: score + report of one large region -------------------------------------------------
def region_case(
    m: int, args: argparse.Namespace, network_file: Path, trained: bool
) -> dict[str, Any]:
    """A model trained on ``--train-tiles`` tiles (untimed: ingest, featurize, train; or the
    one the throughput runs ``trained``), then the region of ``m`` tiles scored and reported,
    each pipeline timed and its memory sampled; the sizes of the report and GIS layers."""
    from kedro.framework.startup import bootstrap_project

    workdir = args.workdir
    tile_root = workdir / "tiles"
    tiles = ensure_tiles(tile_root, max(m, args.train_tiles), os.cpu_count() or 1)
    project = scratch_project(workdir)
    if trained:
        fill_region(project, tiles[:m], tile_root)
    else:
        fill_data(project, tiles[:m], tile_root, network_file, labelled=tiles[: args.train_tiles])
    bootstrap_project(project)
    params = bench_params(args.network)
    with contextlib.chdir(project):
        if not trained:
            for pipeline, tags in (("ingest", ["labelled"]), ("featurize", ["labelled"])):
                kedro_phase(project, pipeline, tags, params)
            kedro_phase(project, "train", None, params)
        kedro_phase(project, "evaluate", None, params)  # the report shows the test metrics
        phases = {name: kedro_phase(project, name, None, params) for name in ("score", "report")}
        (scored,) = catalog_entries(project, params, ["featurize_summary_score"])
    if scored["score"]["featurized"] != m:
        raise RuntimeError(f"The region run lost tiles: {scored}")
    return {"tiles": m, **phases, "files_mb": layer_sizes(project)}


def layer_sizes(project: Path) -> dict[str, float]:
    """Megabytes of the region's report and GIS layers (LAYERS), by file name."""
    (folder,) = {p.parent for p in project.glob(f"data/08_reporting/**/{REGION}/report.html")}
    return {name: round((folder / name).stat().st_size / 2**20, 2) for name in LAYERS}


def region_summary(region: dict[str, Any]) -> str:
    """One line: the region's wall times, peak memory of all processes, file sizes."""
    score, report = region["score"], region["report"]
    memory = max(p["peak_memory_mb"]["all_processes"] for p in (score, report)) / 1024
    files = ", ".join(f"{name} {mb:.1f} MB" for name, mb in region["files_mb"].items())
    return (
        f"Region of {region['tiles']:,} tiles: score {score['seconds']:.0f} s + report "
        f"{report['seconds']:.0f} s = {score['seconds'] + report['seconds']:.0f} s; peak memory "
        f"(all processes) {memory:.1f} GB; {files}"
    )


# ---- driver ---------------------------------------------------------------------------------------
def start_spark(project: Path) -> float:
    """Start the SparkSession once (JVM start is a fixed cost, reported, not in c or d)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    start = time.perf_counter()
    with KedroSession.create(project_path=project) as session:
        session.load_context()
    return time.perf_counter() - start


def benchmark(n: int, args: argparse.Namespace, network_file: Path) -> dict[str, Any]:
    workdir = args.workdir.resolve()
    tile_root = workdir / "tiles"
    tiles = ensure_tiles(tile_root, n, os.cpu_count() or 1)
    baselines = run_baselines(network_file, tiles, args.forward_seconds)
    project = scratch_project(workdir)
    fill_data(project, tiles, tile_root, network_file)
    phases = pipeline_phases(project, args.network, n)
    limit = baselines["network_alone"]["images_per_second"]
    loop = baselines["plain_loop"]["images_per_second"]
    return {
        "tiles": n,
        **baselines,
        **phases,
        "ratios": {
            "c_over_a": phases["featurize"]["images_per_second"] / limit,
            "c_over_b": phases["featurize"]["images_per_second"] / loop,
            "c_over_tuned_loop": phases["featurize"]["images_per_second"]
            / baselines["tuned_loop"]["images_per_second"],
            "d_over_a": phases["score"]["images_per_second"] / limit,
            "decode_bound_c_over_a": decode_bound(
                limit, baselines["decode_seconds_per_tile"], os.cpu_count() or 1
            ),
        },
    }


def _cpu_model() -> str:
    """The CPU's model name and the vector extensions onnxruntime uses (Linux), else the arch."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    flags = set(fields.get("flags", "").split())
    extensions = [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8") if f in flags]
    return f"{fields.get('model name', platform.machine())} ({', '.join(extensions)})"


def machine() -> dict[str, Any]:
    import onnxruntime
    import pyspark

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "pyspark": pyspark.__version__,
    }


COLUMNS = [  # (header, width, format, value of one run)
    ("N", 6, "d", lambda r: r["tiles"]),
    ("a net/s", 8, ".1f", lambda r: r["network_alone"]["images_per_second"]),
    ("b plain/s", 9, ".1f", lambda r: r["plain_loop"]["images_per_second"]),
    ("b tuned/s", 9, ".1f", lambda r: r["tuned_loop"]["images_per_second"]),
    ("c feat/s", 8, ".1f", lambda r: r["featurize"]["images_per_second"]),
    ("d score/s", 9, ".1f", lambda r: r["score"]["images_per_second"]),
    ("c/a", 5, ".2f", lambda r: r["ratios"]["c_over_a"]),
    ("c/b", 5, ".2f", lambda r: r["ratios"]["c_over_b"]),
    ("c/b tuned", 9, ".2f", lambda r: r["ratios"]["c_over_tuned_loop"]),
    ("d/a", 5, ".2f", lambda r: r["ratios"]["d_over_a"]),
    ("bound", 5, ".2f", lambda r: r["ratios"]["decode_bound_c_over_a"]),
    ("c s", 6, ".1f", lambda r: r["featurize"]["seconds"]),
    ("d s", 6, ".1f", lambda r: r["score"]["seconds"]),
    ("driver MB", 9, ".0f", lambda r: _peak(r, "driver_python")),
    ("JVM MB", 7, ".0f", lambda r: _peak(r, "jvm")),
    ("workers MB", 10, ".0f", lambda r: _peak(r, "python_workers")),
]


def _peak(run: dict[str, Any], part: str) -> float:
    return max(run[phase]["peak_memory_mb"].get(part, 0.0) for phase in ("featurize", "score"))


def results_table(results: list[dict[str, Any]]) -> str:
    """One line per N; 'bound' is the decode-bound ceiling of c/a (see decode_bound)."""
    lines = [" ".join(f"{name:>{width}}" for name, width, _, _ in COLUMNS)]
    for run in results:
        lines.append(" ".join(f"{value(run):>{w}{fmt}}" for _, w, fmt, value in COLUMNS))
    return "\n".join(lines)


def cpu_lines(results: list[dict[str, Any]]) -> str:
    """Where c's and d's core-seconds went, per N: Spark's Python workers (per tile, beside the
    network's own cost at a's best setting), the JVM and the driver, against cores x wall time."""
    lines = []
    cores = os.cpu_count() or 1
    for run in results:
        alone = run["network_alone"]
        network_ms = 1000 * alone["threads"] / alone["images_per_second"]
        for letter, phase in (("c", "featurize"), ("d", "score")):
            cpu, seconds = run[phase].get("cpu_seconds"), run[phase]["seconds"]
            if not cpu:
                continue
            lines.append(
                f"{letter}, N = {run['tiles']}: Python workers {cpu['python_workers']:.1f} s "
                f"({1000 * cpu['python_workers'] / run['tiles']:.1f} ms a tile; the network alone "
                f"{network_ms:.1f}), JVM {cpu['jvm']:.1f} s, driver {cpu['driver_python']:.1f} s: "
                f"{sum(cpu.values()):.1f} of {cores} cores x {seconds:.1f} s"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tiles", default="2000", help="N, or several: 1000,4000,16000; none: no throughput runs"
    )
    parser.add_argument("--region-tiles", type=int, default=0, help="M: a region scored, reported")
    parser.add_argument("--train-tiles", type=int, default=240, help="the region's model's tiles")
    parser.add_argument("--network", default="efficientnet_lite0")
    parser.add_argument(
        "--network-file", type=Path, default=None, help="default: data/06_models/pretrained/"
    )
    parser.add_argument("--workdir", type=Path, default=project_root() / "data" / "bench")
    parser.add_argument(
        "--output", type=Path, default=None, help="JSON (default <workdir>/results.json)"
    )
    parser.add_argument("--forward-seconds", type=float, default=3.0, help="per (a) setting")
    return parser.parse_args(argv)


def exported_network(network_file: Path | None, network: str) -> Path:
    """``network_file``, or the project's export of ``network``; a clear error, before any
    work, when it is not there."""
    path = (
        network_file or project_root() / "data" / "06_models" / "pretrained" / f"{network}.onnx"
    ).resolve()
    if not path.exists():
        raise SystemExit(
            f"{path} does not exist: export it first with "
            f"`kedro run --pipelines=pretrained --params pretrained_model={network}`."
        )
    return path


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    args.workdir = args.workdir.resolve()  # the pipelines run from the scratch project folder
    args.output = (args.output or args.workdir / "results.json").resolve()
    sizes = [] if args.tiles == "none" else [int(n) for n in str(args.tiles).split(",")]
    network_file = exported_network(args.network_file, args.network)
    args.workdir.mkdir(parents=True, exist_ok=True)
    spark_start = start_spark(scratch_project(args.workdir.resolve()))
    results = [benchmark(n, args, network_file) for n in sizes]
    region = (
        region_case(args.region_tiles, args, network_file, trained=bool(results))
        if args.region_tiles
        else None
    )
    record = {"machine": machine(), "spark_start_seconds": spark_start, "runs": results}
    args.output.write_text(json.dumps({**record, "region": region}, indent=2))
    if results:
        print(results_table(results))  # noqa: T201
        print(cpu_lines(results))  # noqa: T201
    if region:
        print(region_summary(region))  # noqa: T201
    print(f"Results: {args.output}")  # noqa: T201
    return results


if __name__ == "__main__":
    main()
