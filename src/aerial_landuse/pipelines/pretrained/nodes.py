"""Pretrained-network nodes: export an ImageNet network to ONNX once (int8-quantized on request)."""

from __future__ import annotations

from typing import Any

import numpy as np

from aerial_landuse.inference import read_and_decode
from aerial_landuse.networks import INT8_SUFFIX, ONNXNetwork, export_onnx, is_int8, quantize_int8
from aerial_landuse.tiles import TileFolder


def export_pretrained_network(params: dict[str, Any], train_tiles: TileFolder) -> ONNXNetwork:
    """The selected network as an ONNX feature extractor (ImageNet weights unless told otherwise);
    ``<network>_int8`` quantizes it, calibrated on a seeded sample of the train tiles."""
    name = params["pretrained_model"]
    network = export_onnx(
        name.removesuffix(INT8_SUFFIX), pretrained=bool(params.get("pretrained_weights", True))
    )
    if not is_int8(name):
        return network
    return quantize_int8(network, calibration_tiles(train_tiles, params, network), name)


def calibration_tiles(
    tiles: TileFolder, params: dict[str, Any], network: ONNXNetwork
) -> np.ndarray:
    """Up to ``calibration_tiles`` train tiles, seeded sample, decoded (unreadable ones skipped)."""
    listing = tiles.list_tiles()
    count = min(int(params["calibration_tiles"]), len(listing))
    sample = listing.sample(n=count, random_state=int(params["seed"]))["path"]
    size = network.spec.image_size
    decoded = [read_and_decode(tiles.reader, path, size) for path in sample]
    images = [d for d in decoded if isinstance(d, np.ndarray)]
    if not images:
        raise ValueError(
            f"No readable train tiles under {tiles.reader.uri(tiles.root)} to calibrate the int8 "
            "network on: write the demo set (`kedro run --pipelines=demo_data`) or point train_tiles "
            "at your tiles."
        )
    return np.stack(images)
