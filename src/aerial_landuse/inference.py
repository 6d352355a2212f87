"""Executor-side featurization: decode tiles and run the ONNX network in batches.

One onnxruntime session per executor Python process (cached across tasks, Spark reuses its
Python workers); decoding of the next batch runs in a thread pool while the current one infers
(Pillow releases the GIL while decoding).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aerial_landuse.networks import INPUT_NAME, ONNXNetwork
from aerial_landuse.tiles import TileReader, decode_tile, failure_reason

logger = logging.getLogger(__name__)

_SESSIONS: dict[tuple[str, int], Any] = {}


def onnx_session(model_bytes: Callable[[], bytes], key: str, threads: int) -> Any:
    """The process-wide onnxruntime session for ``key`` (built on first use)."""
    import onnxruntime as ort

    cache_key = (key, threads)
    if cache_key not in _SESSIONS:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        _SESSIONS[cache_key] = ort.InferenceSession(
            model_bytes(), sess_options=options, providers=["CPUExecutionProvider"]
        )
    return _SESSIONS[cache_key]


def model_key(network: ONNXNetwork) -> str:
    return f"{network.spec.name}-{hashlib.sha1(network.uint8_bytes).hexdigest()[:16]}"


@dataclass(frozen=True)
class FeaturizeSettings:
    batch_size: int = 64
    onnx_threads: int = 1
    decode_threads: int = 2


def _decode_batch(
    reader: TileReader, paths: list[str], size: int, pool: ThreadPoolExecutor
) -> list[np.ndarray | str]:
    """Decoded tiles, or the error text for each tile that failed."""

    def load(path: str) -> np.ndarray | str:
        try:
            return decode_tile(reader.read_bytes(path), size)
        except Exception as exc:  # any failure quarantines this tile, never the batch
            return failure_reason(exc)

    return list(pool.map(load, paths))


def _features_for(session: Any, decoded: list[np.ndarray | str]) -> tuple[list[Any], list[Any]]:
    ok = [i for i, d in enumerate(decoded) if isinstance(d, np.ndarray)]
    features: list[Any] = [None] * len(decoded)
    errors: list[Any] = [d if isinstance(d, str) else None for d in decoded]
    if ok:
        out = session.run(None, {INPUT_NAME: np.stack([decoded[i] for i in ok])})[0]
        for row, i in enumerate(ok):
            features[i] = out[row].astype(np.float32, copy=False)
    return features, errors


def featurize_batches(
    batches: Iterator[pd.DataFrame],
    *,
    reader: TileReader,
    network_bytes: Callable[[], bytes],
    key: str,
    image_size: int,
    settings: FeaturizeSettings,
) -> Iterator[pd.DataFrame]:
    """mapInPandas body: each input row gains ``features`` (float array) and ``error``."""
    session = onnx_session(network_bytes, key, settings.onnx_threads)
    with ThreadPoolExecutor(settings.decode_threads) as pool, ThreadPoolExecutor(1) as prefetch:
        chunks = (c for pdf in batches for c in _chunks(pdf, settings.batch_size))
        pending: Future | None = None
        current: pd.DataFrame | None = None
        for chunk in chunks:
            nxt = prefetch.submit(_decode_batch, reader, chunk["path"].tolist(), image_size, pool)
            if pending is not None and current is not None:
                yield _emit(current, session, pending.result())
            pending, current = nxt, chunk
        if pending is not None and current is not None:
            yield _emit(current, session, pending.result())


def _chunks(pdf: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(pdf), size):
        yield pdf.iloc[start : start + size]


def _emit(chunk: pd.DataFrame, session: Any, decoded: list[np.ndarray | str]) -> pd.DataFrame:
    features, errors = _features_for(session, decoded)
    return chunk.assign(features=features, error=errors)
