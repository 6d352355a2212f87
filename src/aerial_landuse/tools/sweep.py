"""Train and evaluate every network x classifier combination available offline.

    python -m aerial_landuse.tools.sweep [--env ENV] [--networks ...] [--classifiers ...]

Each network's features are computed once (ingest + featurize), then every classifier trains and
evaluates on them; each combination is one MLflow run. Networks whose ONNX file is missing and
cannot be exported offline (resnet18/alexnet without torchvision's cached weights) are skipped
with a message. Ends with the leaderboard (`compare` pipeline).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from aerial_landuse.core.contracts import CLASSIFIER_NAMES, default_model_name
from aerial_landuse.core.networks.registry import NETWORK_NAMES
from aerial_landuse.tools import project_root

logger = logging.getLogger("aerial_landuse.tools.sweep")


def run(project: Path, env: str | None, pipelines: list[str], params: dict[str, str]) -> None:
    """One `kedro run` (its own process, so each combination is its own MLflow run)."""
    command = [sys.executable, "-m", "kedro", "run", f"--pipelines={','.join(pipelines)}"]
    if env:
        command.append(f"--env={env}")
    if params:
        command += ["--params", ",".join(f"{k}={v}" for k, v in params.items())]
    logger.info("sweep: %s", " ".join(command[2:]))
    subprocess.run(command, cwd=project, check=True)


def network_ready(project: Path, env: str | None, network: str) -> bool:
    """The network's ONNX file exists, or can be exported now (offline for efficientnet_lite0)."""
    with KedroSession.create(
        project_path=project, env=env, runtime_params={"pretrained_model": network}
    ) as session:
        if session.load_context().catalog.exists("pretrained_network"):
            return True
    try:
        run(project, env, ["pretrained"], {"pretrained_model": network})
    except Exception as exc:  # offline: torchvision cannot fetch the weights
        logger.warning(
            "Skipping %s: no ONNX file and it cannot be exported here (%s)",
            network,
            str(exc).splitlines()[0][:200],
        )
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=None)
    parser.add_argument("--networks", nargs="*", default=list(NETWORK_NAMES))
    parser.add_argument("--classifiers", nargs="*", default=list(CLASSIFIER_NAMES))
    parser.add_argument("--project", type=Path, default=None)
    args = parser.parse_args(argv)
    project = project_root(args.project)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    bootstrap_project(project)
    done = []
    for network in args.networks:
        if not network_ready(project, args.env, network):
            continue
        run(project, args.env, ["ingest", "featurize"], {"pretrained_model": network})
        for classifier in args.classifiers:
            run(
                project,
                args.env,
                ["train", "evaluate"],
                {"pretrained_model": network, "classifier": classifier},
            )
            done.append(default_model_name(network, classifier))
    if not done:
        print("No network was available: export one first (make pretrained).", file=sys.stderr)  # noqa: T201
        return 1
    run(project, args.env, ["compare"], {})
    summary = f"Trained and evaluated {len(done)} models: {', '.join(done)}."
    print(f"{summary} Leaderboard: data/08_reporting/leaderboard.html")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
