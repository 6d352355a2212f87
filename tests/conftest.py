"""Shared fixtures: one real local SparkSession, small generated tile sets, an exported network."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from aerial_landuse.hooks import spark_conf
from aerial_landuse.networks import ONNXNetwork, export_onnx
from aerial_landuse.pipelines.demo_data.textures import LAND_USE_CLASSES, labelled_tile
from aerial_landuse.tiles import TileFolder, TileReader

warnings.filterwarnings("ignore", message=".*register_new_resolver.*")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    conf = spark_conf(
        {
            "spark.master": "local[2]",
            "spark.driver.memory": "2g",
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.pyspark.python": sys.executable,
        }
    )
    session = SparkSession.builder.appName("aerial-landuse-tests").config(conf=conf).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def write_labelled_folder(
    root: Path,
    per_class: int,
    classes: tuple[str, ...] = LAND_USE_CLASSES,
    size: int = 64,
    seed: int = 0,
) -> Path:
    """``root/<Class>/<class>_<i>.png`` synthetic tiles."""
    for k, label in enumerate(classes):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = labelled_tile(np.random.default_rng([seed, k, i]), label, size, 0.0)
            Image.fromarray(pixels).save(root / label / f"{label.lower()}_{i:03d}.png")
    return root


def folder(root: Path, labelled: bool = True) -> TileFolder:
    return TileFolder(str(root.resolve()), labelled, TileReader())


@pytest.fixture(scope="session")
def lite0_network() -> ONNXNetwork:
    """efficientnet_lite0 with its real ImageNet weights, exported once per test session."""
    return export_onnx("efficientnet_lite0", pretrained=True)
