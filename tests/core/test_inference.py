"""Executor-side featurization on Arrow batches, with a real onnxruntime session (no Spark)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import onnx
import pyarrow as pa
import pytest
from onnx import TensorProto, helper
from PIL import Image

from aerial_landuse.core.inference import (
    FeaturizeSettings,
    decoded_ahead,
    dihedral_views,
    features_column,
    featurize_batches,
    network_features,
    new_session,
    tile_decoder,
)
from aerial_landuse.core.tiles.images import TileLimits
from aerial_landuse.storage import Storage


@pytest.fixture(scope="module")
def mean_colour_model() -> bytes:
    """uint8 NHWC image -> its mean R, G, B (a network small enough to check by hand)."""
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["image"], ["as_float"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMean", ["as_float"], ["features"], axes=[1, 2], keepdims=0),
        ],
        "mean_colour",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 8, 8, 3])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_tiles(root, colours):
    paths = []
    for i, colour in enumerate(colours):
        path = root / f"tile_{i}.png"
        Image.new("RGB", (8, 8), colour).save(path)
        paths.append(str(path))
    return paths


def test_decoded_ahead_keeps_order_and_bounds_the_window():
    chunks = [pa.record_batch({"path": [f"{i}a", f"{i}b"]}) for i in range(6)]
    started, consumed, worst = [], [0], [0]
    lock = threading.Lock()

    def decode(path):
        with lock:
            started.append(path)
            worst[0] = max(worst[0], len(started) // 2 - consumed[0])
        return path.upper()

    with ThreadPoolExecutor(2) as pool:
        out = []
        for chunk, decoded in decoded_ahead(iter(chunks), decode, pool, depth=2):
            out.append((chunk.column("path").to_pylist(), decoded))
            consumed[0] += 1
    assert [paths for paths, _ in out] == [c.column("path").to_pylist() for c in chunks]
    assert all(decoded == [p.upper() for p in paths] for paths, decoded in out)
    assert worst[0] <= 3  # the chunk being consumed plus at most `depth` ahead


def test_features_column_has_nulls_and_reasons_for_failed_tiles(mean_colour_model):
    session = new_session(mean_colour_model, 1)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200
    features, errors = features_column(session, [red, "OSError: truncated", red // 2])
    assert features.type == pa.list_(pa.float32())
    assert features.to_pylist() == [[200.0, 0.0, 0.0], None, [100.0, 0.0, 0.0]]
    assert errors.to_pylist() == [None, "OSError: truncated", None]
    nothing, reasons = features_column(session, ["a", "b"])
    assert nothing.null_count == 2 and reasons.to_pylist() == ["a", "b"]


def test_featurize_batches_keeps_every_row_in_order(tmp_path, mean_colour_model):
    paths = write_tiles(tmp_path, [(10, 20, 30), (40, 50, 60), (70, 80, 90)])
    (tmp_path / "broken.png").write_bytes(b"not a png")
    paths.insert(1, str(tmp_path / "broken.png"))
    batch = pa.record_batch({"id": list("abcd"), "path": paths})
    out = pa.Table.from_batches(
        featurize_batches(
            iter([batch.slice(0, 3), batch.slice(3)]),
            decoder=partial(tile_decoder, Storage(), 8, TileLimits(1, 1, 1 << 20)),
            network_bytes=lambda: mean_colour_model,
            key="mean-colour-test",
            settings=FeaturizeSettings(
                batch_size=2,
                onnx_threads=1,
                decode_threads=1,
                decode_ahead=1,
                tta_views=1,
                limits=TileLimits(1, 1, 1 << 20),
            ),
        )
    )
    assert out.column("id").to_pylist() == list("abcd")
    features = out.column("features").to_pylist()
    assert features[0] == [10.0, 20.0, 30.0] and features[3] == [70.0, 80.0, 90.0]
    reason = out.column("error")[1].as_py()
    assert features[1] is None and reason.startswith("UnidentifiedImageError")
    assert reason.endswith("broken.png") and str(tmp_path) not in reason  # the file, not its folder


def test_dihedral_views_are_the_eight_symmetries_of_the_square():
    tile = np.arange(2 * 3 * 3 * 1, dtype=np.uint8).reshape(2, 3, 3, 1)
    views = dihedral_views(tile, 8)
    expected = [np.rot90(tile, k, axes=(1, 2)) for k in range(4)]
    expected += [np.rot90(tile[:, :, ::-1], k, axes=(1, 2)) for k in range(4)]
    as_bytes = {v.tobytes() for v in views}
    assert len(as_bytes) == 8 and as_bytes == {e.tobytes() for e in expected}
    assert all(v.flags["C_CONTIGUOUS"] for v in views)
    assert [v.tobytes() for v in dihedral_views(tile, 2)] == [
        tile.tobytes(),
        tile[:, :, ::-1].tobytes(),
    ]


def test_tta_features_do_not_change_when_the_tile_is_rotated(lite0_network):
    session = new_session(lite0_network.uint8_bytes, 1)
    tile = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    rotated = np.ascontiguousarray(np.rot90(tile, 1, axes=(1, 2)))
    np.testing.assert_allclose(
        network_features(session, tile, 8), network_features(session, rotated, 8), atol=1e-4
    )
    assert np.abs(network_features(session, tile) - network_features(session, rotated)).max() > 1e-3
