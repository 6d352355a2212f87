"""The weights reader runs nothing a file names and reads no memory outside a tensor's storage."""

import os
import pickle

import numpy as np
import pytest

from aerial_landuse.core.networks.efficientnet_lite import (
    LEGACY_MAGIC,
    _Storage,
    _TensorRef,
    read_legacy_state_dict,
)
from aerial_landuse.core.networks.onnx_graphs import lite_weights_file


class _RunsCode:
    """Pickles as a call of ``os.mkdir(marker)``: what a crafted weights file would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.mark.parametrize("position", range(5))
def test_a_crafted_weights_file_runs_no_code_wherever_the_payload_sits(tmp_path, position):
    marker = tmp_path / "ran"
    parts = [LEGACY_MAGIC, 1001, {"little_endian": True}, {}, []]
    parts[position] = _RunsCode(str(marker))
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"".join(pickle.dumps(part, protocol=2) for part in parts))

    with pytest.raises((pickle.UnpicklingError, ValueError)):
        read_legacy_state_dict(weights)
    assert not marker.exists()


def _storage(values: int) -> _Storage:
    return _Storage(np.float32, values, np.arange(values, dtype=np.float32))


@pytest.mark.parametrize(
    ("offset", "shape", "stride"),
    [(0, (10,), (1,)), (3, (2, 2), (2, 1)), (-1, (2,), (1,)), (0, (2,), (-1,)), (0, (2, 2), (1,))],
)
def test_a_tensor_view_outside_its_storage_is_refused(offset, shape, stride):
    with pytest.raises(ValueError, match="weights.pth"):
        _TensorRef(_storage(4), offset, shape, stride).to_numpy("weights.pth")


def test_views_inside_the_storage_read_as_before():
    assert _TensorRef(_storage(6), 2, (2, 2), (2, 1)).to_numpy("w").tolist() == [[2, 3], [4, 5]]
    assert _TensorRef(_storage(6), 5, (), ()).to_numpy("w") == 5
    assert _TensorRef(_storage(6), 0, (0, 3), (3, 1)).to_numpy("w").shape == (0, 3)


def test_the_published_weights_still_read():
    state = read_legacy_state_dict(lite_weights_file("efficientnet_lite0"))
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
