"""Pretrained-network nodes: export an ImageNet network to ONNX once (int8-quantized on request)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.networks.onnx_graphs import ONNXNetwork, export_onnx, quantize_int8
from aerial_landuse.core.networks.registry import INT8_SUFFIX, is_finetuned, is_int8
from aerial_landuse.core.tiles.images import thumbnail
from aerial_landuse.core.tiles.sampling import calibration_sample
from aerial_landuse.storage import TILE_EXTENSIONS, TileFolder


def export_pretrained_network(params: dict[str, Any], train_tiles: TileFolder) -> ONNXNetwork:
    """The selected network as an ONNX feature extractor (ImageNet weights unless told otherwise);
    ``<network>_int8`` quantizes it, calibrated on a seeded sample of the train tiles."""
    name = params["pretrained_model"]
    if is_finetuned(name):
        raise UserInputError(
            f"{name} is made by fine-tuning on your labelled tiles, not exported: "
            f"`kedro run --pipelines=ingest,finetune --params pretrained_model={name}`."
        )
    network = export_onnx(
        name.removesuffix(INT8_SUFFIX), pretrained=bool(params["pretrained_weights"])
    )
    if not is_int8(name):
        return network
    images = train_tiles.image_loaders()
    return quantize_int8(network, calibration_tiles(images, params, network), name)


def calibration_tiles(
    tile_images: dict[str, Callable[[], Image.Image]], params: dict[str, Any], network: ONNXNetwork
) -> np.ndarray:
    """Up to ``calibration_tiles`` train tiles, seeded sample, at the network's input size
    (only the sampled tiles are read; unreadable ones are skipped)."""
    tiles = [k for k in tile_images if k.lower().endswith(TILE_EXTENSIONS)]
    sample = calibration_sample(tiles, params)
    images = [
        image for image in (_pixels(tile_images[k], network) for k in sample) if image is not None
    ]
    if not images:
        raise UserInputError(
            "No readable train tiles to calibrate the int8 network on: write the demo set "
            "(`kedro run --pipelines=demo_data`) or point train_tiles at your tiles."
        )
    return np.stack(images)


def _pixels(load: Callable[[], Image.Image], network: ONNXNetwork) -> np.ndarray | None:
    try:
        return thumbnail(load(), network.spec.image_size)
    except Exception:  # an unreadable tile is left out of the calibration sample
        return None
