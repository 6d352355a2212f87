"""What Spark executors run on tiles: header probes, raw bytes, and the network's forward pass.

Imports no Kedro and no MLflow: executors need only numpy, pandas, pyarrow, Pillow, fsspec and
onnxruntime (the lean executor environment).

Runs as a ``mapInArrow`` body: Arrow record batches in and out, no pandas, features written
straight from onnxruntime's output buffer into an Arrow list column. One onnxruntime session per
executor Python process (cached across tasks; Spark reuses its Python workers). Tiles are read
and decoded by a small thread pool a bounded number of batches ahead of inference (Pillow and
zlib release the GIL), so decoding overlaps the forward pass instead of queuing before it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from aerial_landuse.core.errors import raise_if_outage
from aerial_landuse.core.networks.onnx_graphs import INPUT_NAME, ONNXNetwork
from aerial_landuse.core.tiles.images import (
    TileLimits,
    TileRuleError,
    decode_tile,
    failure_reason,
    probe_image,
    too_many_bytes,
)
from aerial_landuse.core.tiles.source import TileSource

logger = logging.getLogger(__name__)


def probe_partition(
    batches: Iterator[pd.DataFrame], storage: TileSource, limits: TileLimits
) -> Iterator[pd.DataFrame]:
    """mapInPandas body: each tile's width, height, mode and format, or why it cannot be read
    or used (``limits``: minimum side, maximum size, one page)."""
    for pdf in batches:
        results = []
        for path in pdf["path"]:
            try:
                with storage.fs.open(path, "rb") as handle:
                    results.append((*probe_image(handle, limits), None))
            except Exception as exc:  # a failure of the tile quarantines it, an outage stops
                raise_if_outage(exc)
                results.append((None, None, None, None, failure_reason(exc, path)))
        probe = pd.DataFrame(
            results, columns=["width", "height", "mode", "format", "error"], index=pdf.index
        )
        yield pd.concat([pdf, probe], axis=1).astype({"width": "Int32", "height": "Int32"})


def read_bytes_partition(
    batches: Iterator[pd.DataFrame], storage: TileSource, limits: TileLimits
) -> Iterator[pd.DataFrame]:
    """mapInPandas body: each tile's bytes (``content``), or why they could not be read
    (``error``); no more than ``limits.max_bytes`` are read of any tile."""
    for pdf in batches:
        contents, errors = [], []
        for path in pdf["path"]:
            try:
                content = storage.read_bytes(path, limits.max_bytes)
                if len(content) > limits.max_bytes:
                    raise TileRuleError(too_many_bytes(len(content), limits))
                contents.append(content)
                errors.append(None)
            except Exception as exc:  # unreadable: quarantined, never the batch
                raise_if_outage(exc)
                contents.append(None)
                errors.append(failure_reason(exc, path))
        yield pdf.assign(content=contents, error=errors)


_SESSIONS: dict[tuple[str, int], Any] = {}


def onnx_session(model_bytes: Callable[[], bytes], key: str, threads: int) -> Any:
    """The process-wide onnxruntime session for ``key`` (built on first use)."""
    if (key, threads) not in _SESSIONS:
        _SESSIONS[(key, threads)] = new_session(model_bytes(), threads)
    return _SESSIONS[(key, threads)]


def new_session(model: bytes, threads: int) -> Any:
    """An onnxruntime CPU session: all graph optimisations, ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def model_key(network: ONNXNetwork) -> str:
    return f"{network.spec.name}-{hashlib.sha1(network.uint8_bytes).hexdigest()[:16]}"


@dataclass(frozen=True)
class FeaturizeSettings:
    batch_size: int
    onnx_threads: int
    decode_threads: int
    decode_ahead: int  # batches decoded ahead of the one being inferred
    tta_views: int  # dihedral views of each tile whose features are averaged
    limits: TileLimits  # checked again as each tile is read and decoded


Decoded = np.ndarray | str  # pixels, or why the tile could not be read or decoded


def read_and_decode(storage: TileSource, path: str, size: int, limits: TileLimits) -> Decoded:
    """One tile's pixels, or its quarantine reason (a failure of the tile stops this tile, never
    the batch; a storage outage stops the task: the tile is not to blame). No more than
    ``limits.max_bytes`` are read, and the header is checked against ``limits`` before decoding."""
    try:
        return decode_tile(storage.read_bytes(path, limits.max_bytes), size, limits)
    except Exception as exc:
        raise_if_outage(exc)
        return failure_reason(exc, path)


def _slices(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for start in range(0, batch.num_rows, size):
            yield batch.slice(start, size)


def decoded_ahead(
    chunks: Iterator[pa.RecordBatch],
    decode: Callable[[str], Decoded],
    pool: ThreadPoolExecutor,
    depth: int,
) -> Iterator[tuple[pa.RecordBatch, list[Decoded]]]:
    """Each chunk with its decoded tiles; up to ``depth`` further chunks decode meanwhile."""
    window: deque[tuple[pa.RecordBatch, list[Future]]] = deque()
    for chunk in chunks:
        paths = chunk.column("path").to_pylist()
        window.append((chunk, [pool.submit(decode, path) for path in paths]))
        if len(window) > depth:
            done, futures = window.popleft()
            yield done, [future.result() for future in futures]
    while window:
        done, futures = window.popleft()
        yield done, [future.result() for future in futures]


def dihedral_view(images: np.ndarray, view: int) -> np.ndarray:
    """View ``view`` (0-7) of a NHWC batch among its 8 dihedral views: bit 1 flips left-right,
    bit 2 up-down, bit 4 transposes (0: identity ... 3: both flips, 4-7: those transposed).
    Aerial tiles have no "up", so every view is a tile the network could have been shown."""
    if view & 1:
        images = images[:, :, ::-1]
    if view & 2:
        images = images[:, ::-1, :]
    if view & 4:
        images = images.transpose(0, 2, 1, 3)
    return np.ascontiguousarray(images)


def dihedral_views(images: np.ndarray, count: int) -> list[np.ndarray]:
    """The first ``count`` of a NHWC batch's 8 dihedral views (``dihedral_view`` 0, 1, ...)."""
    return [dihedral_view(images, view) for view in range(count)]


def network_features(session: Any, images: np.ndarray, tta_views: int = 1) -> np.ndarray:
    """The network's features of uint8 NHWC ``images``, averaged over ``tta_views`` views."""
    if tta_views == 1:
        return session.run(None, {INPUT_NAME: images})[0]
    outputs = [
        session.run(None, {INPUT_NAME: view})[0] for view in dihedral_views(images, tta_views)
    ]
    return np.mean(outputs, axis=0)


def features_column(
    session: Any, decoded: list[Decoded], tta_views: int = 1
) -> tuple[pa.Array, pa.Array]:
    """(features: list<float> with nulls for failed tiles, error: string or null) for one chunk."""
    ok = np.fromiter((isinstance(d, np.ndarray) for d in decoded), bool, len(decoded))
    errors = pa.array(
        [None if good else d for good, d in zip(ok, decoded, strict=True)], pa.string()
    )
    if not ok.any():
        return pa.nulls(len(decoded), pa.list_(pa.float32())), errors
    images = np.stack([d for d in decoded if isinstance(d, np.ndarray)])
    out = np.ascontiguousarray(network_features(session, images, tta_views), dtype=np.float32)
    lengths = np.where(ok, out.shape[1], 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    features = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(out.reshape(-1)), mask=pa.array(~ok)
    )
    return features, errors


def tile_decoder(
    storage: TileSource, image_size: int, limits: TileLimits
) -> Callable[[str], Decoded]:
    """decode(path) of a tile file: its pixels at ``image_size``, or why it could not be read."""

    def decode(path: str) -> Decoded:
        return read_and_decode(storage, path, image_size, limits)

    return decode


def featurize_batches(
    batches: Iterator[pa.RecordBatch],
    *,
    decoder: Callable[[], Callable[[str], Decoded]],
    network_bytes: Callable[[], bytes],
    key: str,
    settings: FeaturizeSettings,
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: each input row gains ``features`` (list<float>) and ``error``. Its
    ``path`` is what ``decoder()``'s function reads: a tile file (``tile_decoder``) or a raster
    cell (``raster_cells.cell_decoder``)."""
    session = onnx_session(network_bytes, key, settings.onnx_threads)
    decode = decoder()
    pool = ThreadPoolExecutor(settings.decode_threads)
    try:
        chunks = _slices(batches, settings.batch_size)
        for chunk, decoded in decoded_ahead(chunks, decode, pool, settings.decode_ahead):
            features, errors = features_column(session, decoded, settings.tta_views)
            yield chunk.append_column("features", features).append_column("error", errors)
    finally:  # after an outage the queued reads are dropped, not waited for (each would retry)
        pool.shutdown(wait=False, cancel_futures=True)
