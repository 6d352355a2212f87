"""`make cluster-up` / `cluster-down`: pyspark's Master and Workers start, register, and stop by PID."""

import subprocess
import sys

from aerial_landuse.tools.processes import group_alive, recorded_groups


def cluster(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aerial_landuse.tools.cluster", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cluster_up_starts_registered_workers_in_their_own_dirs_and_down_stops_them(tmp_path):
    folder = str(tmp_path / "cluster")
    up = cluster("up", "--folder", folder, "--workers", "2", "--port", "0")
    assert up.returncode == 0, up.stderr
    pids = recorded_groups(tmp_path / "cluster" / "pids")[0]
    try:
        assert "with 2 worker(s)" in up.stdout
        assert len(pids) == 3 and all(group_alive(p) for p in pids)
        workers = sorted(p.name for p in (tmp_path / "cluster" / "workers").iterdir())
        assert workers == ["worker-1", "worker-2"]
        again = cluster("up", "--folder", folder)
        assert again.returncode == 1 and "already running" in again.stdout
    finally:
        down = cluster("down", "--folder", folder)
    assert down.returncode == 0 and "Stopped 3" in down.stdout
    assert not any(group_alive(p) for p in pids)
    assert not (tmp_path / "cluster" / "pids").exists()
