"""The benchmark's parts, and a smoke run of the whole (`make bench` and `make bench-region` on a
few dozen tiles: it must run; no figure is asserted)."""

import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest
from PIL import Image

from aerial_landuse.tools import bench
from aerial_landuse.tools.bench import (
    ProcessWatch,
    cpu_lines,
    decode_bound,
    ensure_tiles,
    results_table,
    tile_name,
    tile_summaries,
)
from tests.conftest import ROOT, run_tool


def test_every_prefix_of_the_tile_set_is_balanced_across_classes():
    labels = Counter(tile_name(i).split("/")[0] for i in range(60))
    assert len(labels) == 6 and set(labels.values()) == {10}
    assert len({tile_name(i) for i in range(600)}) == 600


def test_tiles_are_generated_once_as_224_pixel_pngs(tmp_path):
    tiles = ensure_tiles(tmp_path, 3, workers=1)
    stamps = [t.stat().st_mtime_ns for t in tiles]
    with Image.open(tiles[0]) as image:
        assert (image.format, image.size, image.mode) == ("PNG", (224, 224), "RGB")
    assert [t.stat().st_mtime_ns for t in ensure_tiles(tmp_path, 3, workers=1)] == stamps
    assert not list(tmp_path.rglob("*.part"))


def test_decode_bound_is_the_share_of_core_time_left_to_inference():
    assert decode_bound(260.0, 0.0, 2) == 1.0
    assert decode_bound(260.0, 1.4e-3, 2) == pytest.approx(1 / 1.182, abs=1e-3)


def test_peak_memory_sees_this_process():
    with ProcessWatch(interval=0.01).watching() as memory:
        ballast = b"x" * (64 * 2**20)  # written, so resident
        time.sleep(0.2)
    assert memory.peak["driver_python"] > len(ballast)
    assert set(memory.megabytes()) == {"driver_python", "jvm", "python_workers", "all_processes"}
    assert memory.peak["all_processes"] >= memory.peak["driver_python"]


def test_cpu_seconds_count_the_work_done_while_watched_only():
    def spin(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    spin(0.3)  # before: not counted
    busy = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"
    with ProcessWatch(interval=0.01).watching() as watch:
        spin(0.5)
        worker = subprocess.Popen([sys.executable, "-c", busy + "\ntime.sleep(0.3)"])
        worker.wait()  # a process born while watched counts from its start
    cpu = watch.cpu_seconds()
    assert set(cpu) == {"driver_python", "jvm", "python_workers"}
    assert 0.45 <= cpu["driver_python"] < 1.0  # the spin, and the watch's own sampling
    assert cpu["python_workers"] >= 0.45  # (a JVM this process started counts too: not asserted)


def test_peak_memory_walks_page_tables_only_when_memory_grows(monkeypatch):
    """PSS (a page-table walk) is sampled at a new RSS high at most every pss_interval, not at
    every check: the walks cost the featurize job it measured 8 % when they ran every 0.2 s."""
    walks = []

    def counted_pss(process):
        walks.append(process.pid)
        return process.memory_info().rss

    monkeypatch.setattr(bench, "_pss", counted_pss)
    watcher = ProcessWatch(interval=0.01, pss_interval=0.25)
    with watcher.watching():
        time.sleep(1.0)  # about 100 checks of RSS
    snapshots = walks.count(os.getpid())  # each snapshot measures this process once
    assert 2 <= snapshots <= 2 + 1.0 / 0.25 + 1  # at the start, the end, and new highs


def test_tile_summaries_give_every_tile_its_own_cell(tmp_path):
    tiles = [tmp_path / tile_name(i) for i in range(10)]
    bounds = tile_summaries(tiles)
    assert bounds["filename"].is_unique and len(bounds) == 10
    assert (bounds["urcrnrlat"] > bounds["llcrnrlat"]).all()
    assert len(set(zip(bounds["llcrnrlat"], bounds["llcrnrlon"], strict=True))) == 10


def test_results_table_has_one_line_per_n_with_the_ratios():
    def run(n):
        memory = {"driver_python": 400.0, "jvm": 1500.0, "python_workers": 800.0}
        return {
            "tiles": n,
            "network_alone": {"images_per_second": 260.0},
            "plain_loop": {"images_per_second": 150.0},
            "tuned_loop": {"images_per_second": 200.0},
            "featurize": {"images_per_second": 195.0, "seconds": n / 195, "peak_memory_mb": memory},
            "score": {"images_per_second": 180.0, "seconds": n / 180, "peak_memory_mb": memory},
            "ratios": {
                "c_over_a": 0.75,
                "c_over_b": 1.3,
                "c_over_tuned_loop": 0.975,
                "d_over_a": 0.69,
                "decode_bound_c_over_a": 0.87,
            },
        }

    lines = results_table([run(1000), run(4000)]).splitlines()
    assert len(lines) == 3 and "c/a" in lines[0] and "driver MB" in lines[0]
    assert lines[1].split()[0] == "1000" and "0.75" in lines[1] and "1.30" in lines[1]


def test_cpu_lines_put_the_workers_per_tile_beside_the_network_alone():
    cpu = {"driver_python": 1.5, "jvm": 3.0, "python_workers": 44.0}
    run = {
        "tiles": 4000,
        "network_alone": {"images_per_second": 200.0, "threads": 2},
        "featurize": {"seconds": 25.0, "cpu_seconds": cpu},
        "score": {"seconds": 28.0, "cpu_seconds": cpu},
    }
    c, d = cpu_lines([run]).splitlines()
    assert c.startswith(
        "c, N = 4000: Python workers 44.0 s (11.0 ms a tile; the network alone 10.0)"
    )
    assert "JVM 3.0 s, driver 1.5 s: 48.5 of" in c and d.startswith("d, N = 4000")


@pytest.mark.e2e
def test_the_benchmark_runs_end_to_end_on_a_few_dozen_tiles(tmp_path, lite0_network):
    """`make bench` and `make bench-region` as they run, tiny: throughput for N = 24, then a
    region of 30 tiles scored and reported by the model those runs trained."""
    network = tmp_path / "efficientnet_lite0.onnx"
    network.write_bytes(lite0_network.onnx_bytes)
    command = [
        sys.executable, "-m", "aerial_landuse.tools.bench", "--tiles", "24",
        "--region-tiles", "30", "--train-tiles", "24", "--forward-seconds", "0.2",
        "--workdir", str(tmp_path / "bench"), "--network-file", str(network),
    ]  # fmt: skip
    code, output = run_tool(command)
    assert code == 0, output[-8000:]
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    (run,) = results["runs"]
    assert run["tiles"] == 24 and set(run["ratios"]) >= {"c_over_a", "d_over_a"}
    region = results["region"]
    assert region["tiles"] == 30 and region["score"]["seconds"] > 0
    assert region["report"]["peak_memory_mb"]["all_processes"] > 0
    assert set(region["files_mb"]) == {"report.html", "land_use.geojson", "land_use.gpkg"}
    assert "c/a" in output and "Region of 30 tiles: score" in output
    assert "Add type hints" not in output  # third-party warnings filtered as in `kedro` commands
    assert "is already active" not in output  # no MLflow run carried from one session to the next


def test_a_benchmark_without_its_network_says_how_to_export_it_before_any_work(tmp_path):
    missing = tmp_path / "efficientnet_lite0.onnx"
    command = [
        sys.executable, str(ROOT / "benchmarks" / "raster_chipping.py"), "--sides", "", "--pipeline-side", "2",
        "--network-file", str(missing), "--workdir", str(tmp_path / "work"),
    ]  # fmt: skip
    code, output = run_tool(command)
    assert code != 0
    assert f"{missing} does not exist: export it first with `kedro run --pipelines=pretrained" in (
        output
    )
    assert not (tmp_path / "work").exists()  # no mosaic written before the check
