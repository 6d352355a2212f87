"""Model quality on any labelled folder: the sweep of networks x fine-tuned or not x TTA x
classifiers, with a seeded stratified split, as a leaderboard.

    python -m aerial_landuse.tools.quality --data ../shared/data/rsscn7-dev     # make quality DATA=...

One folder (one sub-folder per class) is split per class (``--test-fraction``, ``--seed``); every
step is a Kedro session of this process in the ``quality`` environment (conf/quality points
train_tiles at ``--data``), as ``kedro run --env=quality`` would run it, sharing one Spark; every
combination is its own MLflow run and its outputs sit under the data
set's name like any run's. Order: ingest once; export each network (or fine-tune it on the train
split: ``<network>_finetuned``); featurize once per network and TTA setting; train and evaluate
each classifier (hyperparameters tuned by cross-validation on the train split; logistic
regression also with the seed's fixed settings, the baseline). Time per tile is measured here,
side by side for every feature set on the same tiles: read + decode + network (all its TTA
views), one process with the machine's cores. Writes leaderboard.csv, leaderboard.md and
leaderboard.png under data/08_reporting/<name>/quality/.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.framework.startup import bootstrap_project

from aerial_landuse.core.contracts import CLASSIFIER_NAMES
from aerial_landuse.core.inference import network_features, new_session
from aerial_landuse.core.networks.onnx_graphs import ONNXNetwork
from aerial_landuse.core.networks.registry import FINETUNED_SUFFIX, features_name, is_finetuned
from aerial_landuse.core.tiles.images import decode_tile
from aerial_landuse.reporting.figure import Figure
from aerial_landuse.storage import TILE_EXTENSIONS
from aerial_landuse.tools import kedro_session, project_root

logger = logging.getLogger("aerial_landuse.tools.quality")

ENV = "quality"
DEFAULT_NETWORKS = [
    "efficientnet_lite0",
    "efficientnet_lite2",
    "efficientnet_lite0+efficientnet_lite2",
]
BASELINE = ("efficientnet_lite0", 1, "logistic_regression", "as_given")  # the product's old default
TIMING_TILES = 64


@dataclass(frozen=True)
class Combination:
    network: str
    tta: int
    classifier: str
    preset: str  # tuned | as_given

    @property
    def model_name(self) -> str:
        name = f"{features_name(self.network, self.tta)}_{self.classifier}"
        return name if self.preset == "tuned" else f"{name}_as_given"


class Sweep:
    """The kedro runs of one quality sweep, all with the same data, name and split."""

    def __init__(
        self,
        project: Path,
        data: Path,
        name: str,
        test_fraction: float,
        seed: int,
        extra: dict[str, str] | None = None,
    ):
        self.project = project
        self.common = {
            "data": str(data),
            "dataset": name,
            "ingest.test_fraction": test_fraction,
            "ingest.seed": seed,
            **(extra or {}),
        }

    def kedro(
        self, pipelines: str, only_missing: bool = False, load: str | None = None, **params: object
    ) -> Any:
        """One Kedro session in this process (one Spark for the whole sweep; each session is its
        own MLflow run), like ``kedro run --env=quality --pipelines=... --params ...``; then the
        catalog dataset ``load`` of that run (its metrics, its network...), read as any node would."""
        from omegaconf import OmegaConf

        merged = {**self.common, **params}
        dotlist = [f"{k}={v}" for k, v in merged.items()]
        runtime = OmegaConf.to_container(OmegaConf.from_dotlist(dotlist))
        logger.info("quality: kedro run --pipelines=%s --params %s", pipelines, _shown(params))
        with kedro_session(self.project, env=ENV, runtime_params=runtime) as session:
            session.run(pipeline_names=pipelines.split(","), only_missing_outputs=only_missing)
            return session.load_context().catalog.load(load) if load else None


def _shown(params: dict[str, object]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


def sample_tiles(data: Path, count: int, seed: int) -> list[Path]:
    """A seeded sample of the folder's tiles, the same for every feature set's timing."""
    tiles = sorted(p for p in data.rglob("*") if p.suffix.lower() in TILE_EXTENSIONS)
    rng = np.random.default_rng(seed)
    return [tiles[i] for i in sorted(rng.choice(len(tiles), min(count, len(tiles)), replace=False))]


def milliseconds_per_tile(network: ONNXNetwork, tiles: list[Path], tta: int) -> float:
    """Read + decode + network (``tta`` views) per tile, batches of 16, one onnxruntime session
    with the machine's cores: what featurize does per tile, without Spark around it."""
    session = new_session(network.uint8_bytes, os.cpu_count() or 1)
    size = network.spec.image_size
    network_features(session, np.zeros((1, size, size, 3), np.uint8), tta)  # warm-up
    started = time.perf_counter()
    for start in range(0, len(tiles), 16):
        batch = np.stack([decode_tile(p.read_bytes(), size) for p in tiles[start : start + 16]])
        network_features(session, batch, tta)
    return 1000 * (time.perf_counter() - started) / len(tiles)


def combinations(networks: list[str], ttas: list[int], classifiers: list[str]) -> list[Combination]:
    """Every network x TTA x classifier tuned, plus the as_given preset (fixed hyperparameters) of each classifier on the
    first network without TTA (the baseline among them)."""
    tuned = [Combination(n, t, c, "tuned") for n in networks for t in ttas for c in classifiers]
    seed = [Combination(networks[0], 1, c, "as_given") for c in classifiers]
    return seed + tuned


def run_sweep(args: argparse.Namespace, project: Path) -> pd.DataFrame:
    extra = dict(item.split("=", 1) for item in args.params.split(",") if item)
    sweep = Sweep(project, args.data, args.name, args.test_fraction, args.seed, extra)
    networks = args.networks + [f"{n}{FINETUNED_SUFFIX}" for n in args.finetune]
    sweep.kedro("ingest")
    finetune_s = {}
    for network in networks:
        if is_finetuned(network):  # <network>_finetuned, or that int8-quantized
            history = sweep.kedro(
                "finetune",
                only_missing=not args.refit,
                load="finetune_history",
                pretrained_model=network,
            )
            finetune_s[network] = sum(epoch["seconds"] for epoch in history["epochs"])
        else:
            sweep.kedro("pretrained", only_missing=True, pretrained_model=network)
    timing_tiles = sample_tiles(args.data, TIMING_TILES, args.seed)
    ms_per_tile = {}
    for network in networks:
        for tta in args.tta:
            exported = sweep.kedro(
                "featurize", load="pretrained_network", pretrained_model=network, tta=tta
            )
            ms_per_tile[network, tta] = milliseconds_per_tile(exported, timing_tiles, tta)
    rows = []
    for combo in combinations(networks, args.tta, args.classifiers):
        metrics = sweep.kedro(
            "train,evaluate",
            load="metrics",
            pretrained_model=combo.network,
            tta=combo.tta,
            classifier=combo.classifier,
            model_name=combo.model_name,
            **{"train.preset": combo.preset},
        )
        rows.append(
            {
                "network": combo.network,
                "fine_tuned": is_finetuned(combo.network),
                "tta": combo.tta,
                "classifier": combo.classifier,
                "preset": combo.preset,
                "accuracy": metrics["accuracy"],
                "macro_f1": metrics["macro_f1"],
                "ms_per_tile": ms_per_tile[combo.network, combo.tta],
                "finetune_s": finetune_s.get(combo.network),
                "model_name": combo.model_name,
            }
        )
    return pd.DataFrame(rows)


def with_earlier_rows(rows: pd.DataFrame, earlier: Path, fresh: bool) -> pd.DataFrame:
    """This sweep's rows plus an earlier sweep's rows of other combinations (same data set
    name), so that ``--networks efficientnet_lite1`` adds to the leaderboard; ``--fresh``: only
    this sweep's."""
    if fresh or not earlier.exists():
        return rows
    kept = pd.read_csv(earlier)
    kept = kept[~kept["model_name"].isin(rows["model_name"])]
    kept = kept.drop(columns=[c for c in ("rank", "gain_points", "time_vs_baseline") if c in kept])
    return pd.concat([kept, rows], ignore_index=True)


def leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    """Best accuracy first; each row's gain over the baseline (frozen Lite0 + seed LR) in points
    and its time per tile as a multiple of the baseline's."""
    base = rows[
        (rows["network"] == BASELINE[0])
        & (rows["tta"] == BASELINE[1])
        & (rows["classifier"] == BASELINE[2])
        & (rows["preset"] == BASELINE[3])
    ]
    table = rows.copy()
    if len(base):
        table["gain_points"] = 100 * (table["accuracy"] - float(base["accuracy"].iloc[0]))
        table["time_vs_baseline"] = table["ms_per_tile"] / float(base["ms_per_tile"].iloc[0])
    table = table.sort_values(["accuracy", "macro_f1"], ascending=False).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def markdown(table: pd.DataFrame, args: argparse.Namespace) -> str:
    """The leaderboard as a Markdown table, with how it was made."""
    shown = table.copy()
    for column in ("accuracy", "macro_f1"):
        shown[column] = (100 * shown[column]).map("{:.1f}".format)
    for column, fmt in (
        ("gain_points", "{:+.1f}"),
        ("time_vs_baseline", "{:.1f}x"),
        ("ms_per_tile", "{:.1f}"),
        ("finetune_s", "{:.0f}"),
    ):
        if column in shown:
            shown[column] = shown[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    columns = [
        c
        for c in (
            "rank",
            "network",
            "tta",
            "classifier",
            "preset",
            "accuracy",
            "macro_f1",
            "gain_points",
            "ms_per_tile",
            "time_vs_baseline",
            "finetune_s",
        )
        if c in shown
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown[columns].values]
    header = (
        f"Data: `{args.data}` ({args.name}), test fraction {args.test_fraction}, seed "
        f"{args.seed}; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_version()}. Accuracy and macro F1 in % on the test split; "
        "ms_per_tile: read + decode + network with all TTA views, one process; finetune_s: "
        "training time of the fine-tuned network (once per data set)."
    )
    return header + "\n\n" + "\n".join(lines) + "\n"


def figure(table: pd.DataFrame) -> Figure:
    """Accuracy against time per tile: what each point of accuracy costs."""
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    for classifier, marker in zip(CLASSIFIER_NAMES, "osD", strict=True):
        rows = table[table["classifier"] == classifier]
        ax.scatter(rows["ms_per_tile"], 100 * rows["accuracy"], marker=marker, label=classifier)
    best = table.iloc[0]
    ax.annotate(
        f"{best['network']} tta{best['tta']} {best['classifier']}",
        (best["ms_per_tile"], 100 * best["accuracy"]),
        textcoords="offset points",
        xytext=(6, 6),
        fontsize=8,
    )
    ax.set_xscale("log")
    ax.set_xlabel("ms per tile (read + decode + network, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _name_of(folder: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.name).strip("-.") or "quality"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="labelled folder (one sub-folder per class)"
    )
    parser.add_argument("--name", default=None, help="data set name (default: the folder's)")
    parser.add_argument("--test-fraction", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--networks", nargs="+", default=DEFAULT_NETWORKS)
    parser.add_argument(
        "--finetune",
        nargs="*",
        default=["efficientnet_lite0"],
        help="networks also fine-tuned (as <network>_finetuned); none: --finetune",
    )
    parser.add_argument("--tta", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--classifiers", nargs="+", default=list(CLASSIFIER_NAMES))
    parser.add_argument("--refit", action="store_true", help="fine-tune again even if done")
    parser.add_argument(
        "--fresh", action="store_true", help="leaderboard of this sweep only (default: add to it)"
    )
    parser.add_argument(
        "--params",
        default="",
        help="more run parameters for every run, as kedro run --params k=v,k=v "
        "(e.g. finetune.max_epochs=10,train.tuning.folds=5)",
    )
    parser.add_argument("--project", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder (one sub-folder of tiles per class)")
    args.data = args.data.resolve()
    args.name = args.name or _name_of(args.data)
    project = project_root(args.project)
    os.chdir(project)
    bootstrap_project(project)
    rows = run_sweep(args, project)
    out = project / "data" / "08_reporting" / args.name / "quality"
    out.mkdir(parents=True, exist_ok=True)
    table = leaderboard(with_earlier_rows(rows, out / "leaderboard.csv", args.fresh))
    table.to_csv(out / "leaderboard.csv", index=False)
    text = markdown(table, args)
    (out / "leaderboard.md").write_text(text)
    figure(table).savefig(out / "leaderboard.png", dpi=110)
    print(text)  # noqa: T201
    print(f"Leaderboard: {out / 'leaderboard.csv'} (.md, .png)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
