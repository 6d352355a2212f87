"""Featurize throughput of the two backends, side by side in one Spark session.

    .venv/bin/python benchmarks/featurize_backends.py [--rounds 2]

Runs the featurize step (read, decode, resize, infer; no write) on the labelled demo tiles
(`make run` first) with the onnxruntime backend and the SynapseML backend, alternating, and
prints images/s for each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    project = Path(__file__).resolve().parents[1]
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        context = session.load_context()
        catalog = context.catalog
        index, tiles, network = (
            catalog.load(n) for n in ("labelled_tile_index", "train_tiles", "pretrained_network")
        )
        params, ingest = context.params["featurize"], context.params["ingest"]
        rows = index.count()
        # the registered pipeline's node, run without its catalog write (no pipeline import)
        (node,) = [n for n in pipelines["featurize"].nodes if n.name == "featurize_labelled_tiles"]
        results: dict[str, list[float]] = {"onnxruntime": [], "synapseml": []}
        for _ in range(args.rounds):
            for backend, rates in results.items():
                given = (index, tiles, network, {**params, "backend": backend}, ingest, None)
                inputs = dict(zip(node.inputs, given, strict=True))  # None: nothing to resume
                (rows,) = node.run(inputs).values()
                frame = rows.frame
                start = time.perf_counter()
                done = frame.where("error IS NULL").count()
                rates.append(done / (time.perf_counter() - start))
    best = {backend: max(rates) for backend, rates in results.items()}
    report = {
        "tiles": rows,
        "images_per_second": results,
        "best": best,
        "synapseml_over_onnxruntime": best["synapseml"] / best["onnxruntime"],
    }
    print(json.dumps(report, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
