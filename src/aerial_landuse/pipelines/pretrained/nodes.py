"""Pretrained-network nodes: export an ImageNet network to ONNX once."""

from __future__ import annotations

from typing import Any

from aerial_landuse.networks import ONNXNetwork, export_onnx


def export_pretrained_network(params: dict[str, Any]) -> ONNXNetwork:
    """The selected network as an ONNX feature extractor (ImageNet weights unless told otherwise)."""
    return export_onnx(
        params["pretrained_model"], pretrained=bool(params.get("pretrained_weights", True))
    )
