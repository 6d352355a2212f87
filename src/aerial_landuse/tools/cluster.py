"""A Spark standalone cluster on this machine: pyspark's own Master and Workers, for tests and users.

    python -m aerial_landuse.tools.cluster up   [--workers 2] [--cores 1] [--memory 3g] [--port 7077]
    python -m aerial_landuse.tools.cluster down

Each Worker has its own work directory (executors run there, and unpack the shipped Python
environment there), so, as on a real cluster, executors see only what Spark ships them and the
storage URLs they are given. Processes are started in their own process groups and stopped by
PID (the group), from ``<folder>/pids``; logs are in ``<folder>/logs``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

from aerial_landuse.tools.processes import free_port, record_groups, recorded_groups, stop_groups

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


@dataclass
class StandaloneCluster:
    """A running Master and its Workers (process groups) under ``folder``."""

    folder: Path
    port: int
    ui_port: int
    processes: list[subprocess.Popen] = field(default_factory=list, repr=False)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    @property
    def worker_dirs(self) -> list[Path]:
        return sorted((self.folder / "workers").glob("worker-*"))

    def state(self) -> dict:
        """The Master's JSON status page: workers, their cores and state, applications."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as page:
            return json.load(page)

    def answers(self) -> bool:
        try:
            self.state()
        except OSError:
            return False
        return True

    def alive_workers(self) -> int:
        try:
            return sum(w["state"] == "ALIVE" for w in self.state()["workers"])
        except OSError:
            return 0


def _spark_class() -> list[str]:
    home = Path(pyspark.__file__).parent
    return [str(home / "bin" / "spark-class")]


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_NO_DAEMONIZE": "1",
    }


def _launch(args: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [*_spark_class(), *args],
            env=_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )


def _wait(condition, what: str, processes: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if any(p.poll() is not None for p in processes):
            raise RuntimeError(f"A Spark process exited while waiting for {what}: see its log.")
        time.sleep(0.5)
    raise RuntimeError(f"Timed out after {timeout:.0f} s waiting for {what}.")


def start(
    folder: Path,
    workers: int = 2,
    cores: int = 1,
    memory: str = "3g",
    port: int | None = None,
    timeout: float = 180,
) -> StandaloneCluster:
    """Start a Master on 127.0.0.1 and ``workers`` Workers, each with its own work directory."""
    folder = folder.resolve()
    cluster = StandaloneCluster(folder, port or free_port(), free_port())
    master = [MASTER_CLASS, "--host", "127.0.0.1", "--port", str(cluster.port)]
    master += ["--webui-port", str(cluster.ui_port)]
    cluster.processes.append(_launch(master, folder / "logs" / "master.log"))
    try:
        _wait(cluster.answers, "the Master", cluster.processes, timeout)
        for i in range(workers):
            work_dir = folder / "workers" / f"worker-{i + 1}"
            work_dir.mkdir(parents=True, exist_ok=True)
            args = [WORKER_CLASS, "--host", "127.0.0.1", "--cores", str(cores)]
            args += ["--memory", memory, "--work-dir", str(work_dir), "--webui-port", "0"]
            log = folder / "logs" / f"worker-{i + 1}.log"
            cluster.processes.append(_launch([*args, cluster.master_url], log))
        _wait(
            lambda: cluster.alive_workers() == workers,
            f"{workers} Worker(s) to register",
            cluster.processes,
            timeout,
        )
    except BaseException:
        _stop(cluster.processes)
        raise
    record_groups(folder / "pids", [p.pid for p in cluster.processes])
    (folder / "master").write_text(f"{cluster.master_url} {cluster.ui_port}\n")
    return cluster


def stop(folder: Path) -> int:
    """Stop the cluster whose PIDs are in ``<folder>/pids``; returns how many groups it had."""
    pid_file = folder / "pids"
    if not pid_file.exists():
        return 0
    running, stale = recorded_groups(pid_file)  # a stale PID may be someone else's process now
    stop_groups(running)
    pid_file.unlink()
    return len(running)


def _stop(processes: list[subprocess.Popen]) -> None:
    stop_groups([p.pid for p in processes])
    for process in processes:
        process.wait()


@contextmanager
def running_cluster(folder: Path, workers: int = 2, **options) -> Iterator[StandaloneCluster]:
    """A standalone cluster for the duration of the block (tests); always stopped."""
    cluster = start(folder, workers, **options)
    try:
        yield cluster
    finally:
        _stop(cluster.processes)
        (folder / "pids").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start or stop a local Spark standalone cluster.")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--folder", type=Path, default=Path(".cluster"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--memory", default="3g")
    parser.add_argument("--port", type=int, default=7077)
    args = parser.parse_args(argv)
    if args.action == "down":
        stopped = stop(args.folder)
        print(f"Stopped {stopped} Spark process(es)." if stopped else "No cluster is running.")  # noqa: T201
        return 0
    pid_file = args.folder / "pids"
    if pid_file.exists() and recorded_groups(pid_file)[0]:
        print(f"A cluster is already running ({pid_file}); `make cluster-down` stops it.")  # noqa: T201
        return 1
    pid_file.unlink(missing_ok=True)  # left by a cluster that is gone (a reboot, a kill -9)
    try:
        cluster = start(args.folder, args.workers, args.cores, args.memory, args.port)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return 1
    print(  # noqa: T201
        f"Spark master {cluster.master_url} with {args.workers} worker(s) "
        f"(UI http://127.0.0.1:{cluster.ui_port}); run: kedro run --env=cluster"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
