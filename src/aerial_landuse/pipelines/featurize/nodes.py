"""Featurize nodes: tiles to pooled ImageNet features on Spark executors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from aerial_landuse.core.classifiers.synapseml import image_tensors, onnx_features, require_jars
from aerial_landuse.core.contracts import FEATURE_FIELDS, QUARANTINE_COLUMNS
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.inference import (
    FeaturizeSettings,
    featurize_batches,
    model_key,
    read_bytes_partition,
    tile_decoder,
)
from aerial_landuse.core.networks.onnx_graphs import NETWORK_INPUT, OUTPUT_NAME, ONNXNetwork
from aerial_landuse.core.spark_frames import (
    ArrowMap,
    Progress,
    ResumableRows,
    count_and_fingerprint,
    count_by,
    partitions_for,
    stable_digest,
)
from aerial_landuse.core.tiles.images import TileLimits
from aerial_landuse.core.tiles.raster_cells import cell_decoder
from aerial_landuse.core.tiles.raster_region import RasterRegion
from aerial_landuse.core.tiles.usable import check_usable
from aerial_landuse.storage import TileFolder
from aerial_landuse.storage.raster_region import rasterio_opener

logger = logging.getLogger(__name__)


def _settings(params: dict[str, Any], ingest: dict[str, Any]) -> FeaturizeSettings:
    return FeaturizeSettings(
        batch_size=int(params["batch_size"]),
        onnx_threads=int(params["onnx_threads"]),
        decode_threads=int(params["decode_threads"]),
        decode_ahead=int(params["decode_ahead"]),
        tta_views=int(params["tta_views"]),
        limits=TileLimits.of(ingest),
    )


def featurize_tiles(
    tile_index: DataFrame,
    tiles: TileFolder,
    network: ONNXNetwork,
    params: dict[str, Any],
    ingest: dict[str, Any],
    progress: Progress | None = None,
    raster_region: dict[str, Any] | None = None,
) -> ResumableRows:
    """Every indexed tile with its ``features`` (array<float>), or the ``error`` that stopped it.
    ``ingest``'s tile limits are checked again as each tile is read (a file swapped since).
    The cells of a raster region (``raster_region``'s record) are read from its files, each
    task opening the files its cells overlap; a cell with too many pixels without data gets
    that reason as its ``error``.

    Lazy: the catalog's write runs the network, once, from tile files straight to Parquet (no
    cache, no second pass), so executor memory stays flat however many tiles there are.
    Resumable: the rows come with their job (tile index, network, backend); when
    ``progress`` shows a stopped run of the same job, only the tiles it did not finish are
    featurized and the catalog keeps its finished parts.
    """
    backend = params["backend"]  # checked before the run (parameters.py)
    if params["pretrained_model"] != network.spec.name:
        raise UserInputError(
            f"pretrained_model is {params['pretrained_model']!r} but the network file holds "
            f"{network.spec.name!r}: re-export it with `kedro run --pipelines=pretrained`."
        )
    views = int(params["tta_views"])
    if views != 1 and backend != "onnxruntime":
        raise UserInputError(
            f"Test-time augmentation (tta_views={views}) runs in the onnxruntime backend: set "
            "featurize.backend to onnxruntime, or tta to 1."
        )
    rows, fingerprint = count_and_fingerprint(tile_index)
    # a raster region's chips also depend on its grid, bands and resampling
    region_key = [json.dumps(raster_region, sort_keys=True)] if raster_region else []
    key = stable_digest(fingerprint, model_key(network), backend, str(views), *region_key)
    todo, remaining = _not_yet_featurized(tile_index, rows, key, progress)
    partitions = partitions_for(todo, remaining, int(params["rows_per_partition"]))
    frame = todo.repartition(partitions)
    logger.info(
        "Featurizing %d tiles with %s (%s backend%s) on %d partitions",
        remaining,
        network.spec.name,
        backend,
        f", features averaged over {views} dihedral views" if views > 1 else "",
        partitions,
    )
    kept = progress.part_names if progress is not None and progress.key == key else ()
    region = RasterRegion.from_record(raster_region)
    if region is not None:
        # cells in id order (a column of the grid after another): a task reads neighbouring
        # windows of the same files
        frame = todo.repartitionByRange(partitions, "path")
        if backend != "onnxruntime":
            raise UserInputError(
                "A raster region's cells are read in the onnxruntime backend: set "
                "featurize.backend to onnxruntime."
            )
    decoder = _decoder(tiles, network, _settings(params, ingest), region)
    running = _run_network(frame, decoder, network, _settings(params, ingest), backend, tiles)
    if isinstance(running, ArrowMap):  # the writer runs in the network's pass
        return ResumableRows.mapped(running, key, kept)
    return ResumableRows(running, key, kept)


def _not_yet_featurized(
    tile_index: DataFrame, rows: int, key: str, progress: Progress | None
) -> tuple[DataFrame, int]:
    """(tiles to featurize, how many): all of them, or those a stopped run of the same job left."""
    if progress is None or progress.key != key or progress.done is None:
        return tile_index, rows
    todo = tile_index.join(progress.done.select("id"), "id", "left_anti").select(
        *tile_index.columns
    )
    remaining = todo.count()
    logger.info(
        "Resuming: %d of %d tiles were featurized by a run that stopped (%d parts kept); %d to go",
        rows - remaining,
        rows,
        progress.parts,
        remaining,
    )
    return todo, remaining


def _decoder(
    tiles: TileFolder,
    network: ONNXNetwork,
    settings: FeaturizeSettings,
    region: RasterRegion | None,
) -> Callable[[], Callable[[str], Any]]:
    """What makes a task's decode(path): tile files, or the cells of a raster region."""
    size = network.spec.image_size
    if region is None:
        return partial(tile_decoder, tiles.storage, size, settings.limits)
    return partial(
        cell_decoder,
        region.grid,
        list(region.sources),
        region.chip_settings(size),
        rasterio_opener(tiles.storage),
    )


def _run_network(
    frame: DataFrame,
    decoder: Callable[[], Callable[[str], Any]],
    network: ONNXNetwork,
    settings: FeaturizeSettings,
    backend: str,
    tiles: TileFolder,
) -> ArrowMap | DataFrame:
    if backend == "synapseml":
        return _run_network_synapseml(frame, tiles, network, settings)
    broadcast = frame.sparkSession.sparkContext.broadcast(network.uint8_bytes)
    body = partial(
        featurize_batches,
        decoder=decoder,
        network_bytes=lambda: broadcast.value,
        key=model_key(network),
        settings=settings,
    )
    return ArrowMap(frame, body, T.StructType(frame.schema.fields + FEATURE_FIELDS))


def _run_network_synapseml(
    frame: DataFrame, tiles: TileFolder, network: ONNXNetwork, settings: FeaturizeSettings
) -> DataFrame:
    """SynapseML backend: ImageTransformer (OpenCV) decodes and resizes, ONNXModel infers.

    One pass: a tile OpenCV cannot decode gets a zero tensor and its error, so nothing is read twice.
    """
    require_jars(frame.sparkSession)
    columns, spec = frame.columns, network.spec
    extra = [T.StructField("content", T.BinaryType()), T.StructField("error", T.StringType())]
    raw = frame.mapInPandas(
        partial(read_bytes_partition, storage=tiles.storage, limits=settings.limits),
        T.StructType(frame.schema.fields + extra),
    )
    tensors = image_tensors(raw, "content", spec.image_size, spec.mean, spec.std)
    zero = F.lit(0.0).cast("float")
    zeros = F.array_repeat(
        F.array_repeat(F.array_repeat(zero, spec.image_size), spec.image_size), 3
    )
    undecodable = F.lit("not an image OpenCV can decode (SynapseML ImageTransformer)")
    missing = F.col("tensor").isNull()
    tensors = tensors.select(
        *columns,
        F.when(missing, F.coalesce("error", undecodable)).otherwise(F.col("error")).alias("error"),
        F.coalesce("tensor", zeros).alias("tensor"),
    )
    scored = onnx_features(
        tensors, network.onnx_bytes, NETWORK_INPUT, OUTPUT_NAME, settings.batch_size
    )
    features = F.when(F.col("error").isNull(), F.col("features").cast(T.ArrayType(T.FloatType())))
    return scored.select(*columns, features.alias("features"), "error")


def _quarantine_of(featurized: DataFrame, network: ONNXNetwork) -> pd.DataFrame:
    bad = featurized.where(F.col("error").isNotNull()).select(
        "path",
        "split",
        "label",
        F.lit(f"featurize:{network.spec.name}").alias("stage"),
        F.col("error").alias("reason"),
    )
    return bad.toPandas().reindex(columns=QUARANTINE_COLUMNS)


def featurize_summary(
    tile_index: DataFrame, featurized: DataFrame, network: ONNXNetwork
) -> dict[str, Any]:
    """Per split: indexed = featurized + quarantined (raises if not)."""
    indexed = count_by(tile_index, "split")
    ok = count_by(featurized.withColumn("ok", F.col("error").isNull()), "split", "ok")
    summary: dict[str, Any] = {
        "pretrained_model": network.spec.name,
        "feature_dim": network.spec.feature_dim,
    }
    for split, n in indexed.items():
        row = {
            "indexed": n,
            "featurized": ok.get(f"{split}/True", 0),
            "quarantined": ok.get(f"{split}/False", 0),
        }
        if row["indexed"] != row["featurized"] + row["quarantined"]:
            raise RuntimeError(f"Featurize counts do not reconcile for split {split}: {row}")
        summary[split] = row
    return summary


def quarantine_and_count_featurized(
    tile_index: DataFrame,
    featurized: DataFrame,
    network: ONNXNetwork,
    ingest: dict[str, Any],
    raster_region: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """From the written features: the tiles the network could not read (quarantine, with the
    reason) and counts per split that reconcile with the tile index (reads two small columns).
    A tile folder's split with no readable tile, or more unreadable than
    ``ingest.max_quarantined_share``, stops the run (the tiles to score are first opened here);
    a raster region's cells without data at its edges are expected, and not counted so."""
    quarantine = _quarantine_of(featurized, network)
    summary = featurize_summary(tile_index, featurized, network)
    if not raster_region:
        _check_usable_share(summary, quarantine, float(ingest["max_quarantined_share"]))
    return quarantine, summary


def _check_usable_share(summary: dict[str, Any], quarantine: pd.DataFrame, limit: float) -> None:
    for split, row in summary.items():
        if isinstance(row, dict):
            mine = quarantine[quarantine["split"] == split]
            counts = (row["quarantined"], row["featurized"], row["indexed"])
            check_usable(split, counts, mine["path"].astype(str).tolist(), mine["reason"], limit)
