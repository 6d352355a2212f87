"""Fine-tuning on a GPU against the CPU: the same tiles, configuration and seed, side by side.

    python benchmarks/finetune_devices.py --tiles ../shared/data/rsscn7-dev --per-class 22

Runs the core's training loop (``core/networks/finetuning.train_network``, what each Spark task
of the finetune node runs) once with ``use_gpu`` true and once false, on a seeded, stratified
split of a folder of class subfolders (``validation`` tiles per class held out for early
stopping), with conf/base's ``finetune`` parameters but ``--epochs``. Prints seconds per epoch,
validation accuracy per epoch and the GPU/CPU time ratio; writes JSON to ``--output``. Needs no
Spark, Kedro or MLflow: the core imports neither, so it runs on a bare accelerator machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import yaml

from aerial_landuse.core.networks.finetuning import FinetuneConfig, LabelledPaths, train_network

ROOT = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


class LocalTiles:
    """The ``TileSource`` the core asks for, over local paths (the storage layer's ``Storage``
    needs the project's other packages, which a bare accelerator machine lacks)."""

    @property
    def fs(self) -> Any:
        import fsspec

        return fsspec.filesystem("file")

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        with open(path, "rb") as handle:
            return handle.read() if limit is None else handle.read(limit + 1)


def labelled_split(
    folder: Path, per_class: int, validation: int, seed: int
) -> tuple[list[str], LabelledPaths, LabelledPaths]:
    """Classes (subfolders, sorted) and a seeded train/validation split of ``per_class`` tiles
    of each."""
    labels = sorted(p.name for p in folder.iterdir() if p.is_dir())
    train, held = LabelledPaths([], []), LabelledPaths([], [])
    rng = random.Random(seed)
    for index, label in enumerate(labels):
        tiles = sorted(
            str(p) for p in (folder / label).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
        )
        chosen = rng.sample(tiles, min(per_class, len(tiles)))
        for i, path in enumerate(chosen):
            part = held if i < validation else train
            part.paths.append(path)
            part.classes.append(index)
    return labels, train, held


def configured(network: str, epochs: int, use_gpu: bool) -> FinetuneConfig:
    """conf/base's ``finetune`` parameters, ``epochs`` of them without early stopping."""
    params = yaml.safe_load((ROOT / "conf/base/parameters_finetune.yml").read_text())["finetune"]
    params |= {"max_epochs": epochs, "patience": epochs}
    return FinetuneConfig.from_params(params, network, use_gpu)


def run_once(
    config: FinetuneConfig, split: tuple[list[str], LabelledPaths, LabelledPaths]
) -> dict[str, Any]:
    """One fine-tuning: its device, wall seconds and per-epoch history."""
    labels, train, held = split
    started = time.perf_counter()
    result = train_network(config, labels, train, held, LocalTiles())  # weights back on the CPU
    return {
        "device": result["device"],
        "seconds": time.perf_counter() - started,
        "history": [
            {k: round(v, 4) for k, v in row.items() if k != "epoch"} | {"epoch": row["epoch"]}
            for row in result["history"]
        ],
        "best_epoch": result["best_epoch"],
    }


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=Path, required=True, help="folder of class subfolders")
    parser.add_argument("--per-class", type=int, default=22)
    parser.add_argument("--validation", type=int, default=6, help="held-out tiles per class")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--network", default="efficientnet_lite0")
    parser.add_argument("--output", type=Path, default=Path("finetune_devices.json"))
    args = parser.parse_args()
    split = labelled_split(args.tiles, args.per_class, args.validation, seed=42)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    print(f"torch {torch.__version__}; GPU: {gpu}; CPU threads {torch.get_num_threads()}")  # noqa: T201
    runs = {}
    for use_gpu in (True, False):
        runs["gpu" if use_gpu else "cpu"] = run = run_once(
            configured(args.network, args.epochs, use_gpu), split
        )
        print(json.dumps(run))  # noqa: T201
    ratio = runs["cpu"]["seconds"] / runs["gpu"]["seconds"]
    gpu_run, cpu_run = runs["gpu"], runs["cpu"]
    print(  # noqa: T201
        f"train {len(split[1].paths)} / validation {len(split[2].paths)} tiles, {args.epochs} "
        f"epochs: GPU run on {gpu_run['device']} {gpu_run['seconds']:.1f} s, "
        f"CPU {cpu_run['seconds']:.1f} s: CPU/GPU {ratio:.2f}x"
    )
    payload = {"gpu": gpu, "cpus": os.cpu_count(), "runs": runs, "cpu_over_gpu": ratio}
    args.output.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
