"""Featurize and score throughput: local mode vs a standalone cluster of 1 and 2 Workers, one run.

    .venv/bin/python benchmarks/cluster_scaling.py [--tiles 1000] [--cores-per-worker 1]

The same N generated 224 px tiles (the benchmark's, `python -m aerial_landuse.tools.bench`) are
uploaded once to a fresh Azurite; then, in a scratch copy of the project, each mode runs
`kedro run --pipelines=ingest,featurize` and `kedro run --pipelines=score` on them:
local (`--env=azurite`, local[*]), and `--env=cluster` on pyspark's Master with 1 and with 2
Workers, executors on the packed executor environment (`make executor-env`). Featurize is timed
by the write of labelled_features (the network pass), score by Kedro's pipeline time (list,
probe, featurize, apply the model, write). Prints images/s and images/s per core; writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import fsspec

from aerial_landuse.tools import project_root
from aerial_landuse.tools.azurite import running_azurite
from aerial_landuse.tools.bench import ensure_tiles, fill_data, scratch_project
from aerial_landuse.tools.cluster import running_cluster

NETWORK = "efficientnet_lite0"


def kedro(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kedro", "run", *args],
        cwd=project,
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"kedro run {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def seconds(log: str, pattern: str) -> float:
    found = re.findall(pattern, log)
    if not found:
        raise RuntimeError(f"No timing matching {pattern!r} in the run's log.")
    return float(found[-1])


def measure(project: Path, env: dict[str, str], mode: str, params: str, n: int) -> dict:
    log = kedro(project, env, f"--env={mode}", "--pipelines=ingest,featurize", "--params", params)
    featurize = seconds(log, r"Wrote labelled_features in ([\d.]+) s")
    log = kedro(project, env, f"--env={mode}", "--pipelines=score", "--params", params)
    score = seconds(log, r"Pipeline execution completed successfully in ([\d.]+) sec")
    return {
        "featurize_seconds": featurize,
        "score_seconds": score,
        "featurize_images_per_second": n / featurize,
        "score_images_per_second": n / score,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiles", type=int, default=1000)
    parser.add_argument("--cores-per-worker", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("data/bench/cluster_scaling.json"))
    args = parser.parse_args()
    root = project_root()
    env_archive = root / "dist" / "executor-env.tar.gz"
    if not env_archive.exists():
        raise SystemExit("Pack the executor environment first: make executor-env")
    network = root / "data" / "06_models" / "pretrained" / f"{NETWORK}.onnx"
    workdir = (root / "data" / "bench").resolve()
    tiles = ensure_tiles(workdir / "tiles", args.tiles, os.cpu_count() or 1)
    project = scratch_project(workdir / "cluster")
    fill_data(project, tiles, workdir / "tiles", network)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="aerial-scaling-") as scratch:
        with running_azurite(Path(scratch) / "azurite") as azurite:
            env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
            subprocess.run(
                [sys.executable, "-m", "aerial_landuse.tools.upload", "--env", "azurite"],
                cwd=project, env={**os.environ, **env}, check=True, capture_output=True,
            )  # fmt: skip
            fs = fsspec.filesystem("abfs", connection_string=azurite.connection_string)
            fs.put_file(str(network), f"pretrainedmodels/{NETWORK}.onnx")
            base = f"ingest.test_fraction=0.25,executor_env={env_archive}"
            kedro(
                project,
                env,
                "--env=azurite",
                "--pipelines=ingest,featurize,train",
                "--params",
                base,
            )
            cores = os.cpu_count() or 1
            results["local"] = {
                "cores": cores,
                **measure(project, env, "azurite", base, args.tiles),
            }
            for workers in (1, 2):
                folder = Path(scratch) / f"spark-{workers}"
                with running_cluster(folder, workers, cores=args.cores_per_worker) as cluster:
                    params = f"{base},spark_master={cluster.master_url}"
                    run = measure(project, env, "cluster", params, args.tiles)
                results[f"cluster_{workers}_workers"] = {
                    "cores": workers * args.cores_per_worker,
                    **run,
                }
    for row in results.values():
        row["featurize_per_core"] = row["featurize_images_per_second"] / row["cores"]
        row["score_per_core"] = row["score_images_per_second"] / row["cores"]
    report = {"tiles": args.tiles, "network": NETWORK, "modes": results}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    header = ("mode", "cores", "featurize/s", "per core", "score/s", "per core")
    print("{:<20} {:>5} {:>12} {:>9} {:>9} {:>9}".format(*header))  # noqa: T201
    for mode, row in results.items():
        print(  # noqa: T201
            f"{mode:<20} {row['cores']:>5} {row['featurize_images_per_second']:>12.1f} "
            f"{row['featurize_per_core']:>9.1f} {row['score_images_per_second']:>9.1f} "
            f"{row['score_per_core']:>9.1f}"
        )


if __name__ == "__main__":
    main()
