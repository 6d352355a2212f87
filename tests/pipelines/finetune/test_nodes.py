"""Fine-tuning with real torch and a real TorchDistributor on local Spark: the split it sees, the
exported graph against the torch weights it came from, the lineage it carries and registers."""

from __future__ import annotations

import mlflow
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from mlflow import MlflowClient
from pyspark.sql import functions as F

from aerial_landuse.core.networks.finetuning import FinetuneConfig
from aerial_landuse.core.networks.onnx_graphs import lite_state_dict, normalise
from aerial_landuse.core.networks.registry import network_spec
from aerial_landuse.datasets import ONNXNetworkDataset
from aerial_landuse.pipelines.finetune.nodes import finetune_network, finetune_tiles
from aerial_landuse.pipelines.ingest.nodes import (
    list_labelled_tiles,
    probe_tiles,
    split_index_and_quarantine,
)
from aerial_landuse.pipelines.train.nodes import split_labelled_tiles
from aerial_landuse.reporting.learning_curves import finetune_summary, plot_learning_curves
from aerial_landuse.storage.atomic import STAGING_SUFFIX
from tests.conftest import folder, parameters, write_labelled_folder

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

from aerial_landuse.core.networks.finetuning import augment, network_for  # noqa: E402
from aerial_landuse.core.networks.onnx_graphs import lite_onnx  # noqa: E402

INGEST = parameters("ingest") | {
    "test_fraction": 0.25,
    "sample_frac": 1.0,
    "seed": 3,
    "rows_per_partition": 8,
    "max_quarantined_share": 0.5,
}
CLASSES = ("Forest", "Developed", "Cultivated")
FINETUNE = parameters("finetune") | {
    "pretrained_model": "efficientnet_lite0_finetuned",
    "validation_fraction": 0.25,
    "max_epochs": 2,
    "patience": 4,
    "batch_size": 8,
    "learning_rate": 0.003,
    "trainable_blocks": 2,
    "seed": 0,
    "num_processes": 1,
    "local_mode": True,
    "use_gpu": False,
}

PRETRAINED = parameters("pretrained") | {"calibration_tiles": 4}


def indexed(tmp_path, per_class=8):
    tiles = folder(write_labelled_folder(tmp_path / "train", per_class, CLASSES, size=64))
    listing, ignored, _ = list_labelled_tiles(tiles, folder(tmp_path / "none"), INGEST)
    index, quarantine, _ = split_index_and_quarantine(
        probe_tiles(listing, tiles, INGEST), listing, ignored, INGEST
    )
    return tiles, index, quarantine


def test_finetuning_sees_only_the_train_split_the_train_pipeline_decides(spark, tmp_path):
    _, index, quarantine = indexed(tmp_path, per_class=12)
    split = finetune_tiles(index, quarantine, INGEST, 0.25)
    as_features = index.withColumn("error", F.lit(None).cast("string"))
    decided, _ = split_labelled_tiles(as_features, quarantine, INGEST)
    train_ids = set(decided.loc[decided["split"] == "train", "id"])
    test_ids = set(decided.loc[decided["split"] == "test", "id"])
    assert set(split["id"]) == train_ids and not set(split["id"]) & test_ids
    per_class = split.groupby(["label", "role"]).size().unstack()
    assert (per_class["validation"] == 2).all() and (per_class["train"] == 7).all()


def test_max_tiles_caps_what_fine_tuning_sees_per_class_and_lists_the_rest(spark, tmp_path):
    _, index, quarantine = indexed(tmp_path, per_class=12)
    whole = finetune_tiles(index, quarantine, INGEST, 0.25)
    capped = finetune_tiles(index, quarantine, INGEST, 0.25, max_tiles=9)
    assert sorted(capped["id"]) == sorted(
        whole["id"]
    )  # every train tile is listed: counts reconcile
    used = capped[capped["role"] != "not_used"]
    assert len(used) == 9 and len(capped[capped["role"] == "not_used"]) == len(whole) - 9
    per_class = used.groupby(["label", "role"]).size().unstack()
    assert (per_class["train"] == 2).all() and (per_class["validation"] == 1).all()
    again = finetune_tiles(index, quarantine, INGEST, 0.25, max_tiles=9)
    assert again.equals(capped)  # seeded
    assert finetune_tiles(index, quarantine, INGEST, 0.25, max_tiles=1000).equals(whole)


def config(**overrides):
    """The default fine-tuning settings (conf/base) of efficientnet_lite0, on the CPU."""
    return FinetuneConfig.from_params(
        parameters("finetune", **overrides), "efficientnet_lite0", False
    )


def test_exported_graph_gives_the_fine_tuned_torch_networks_features():
    """Weights and batch-norm statistics changed by training reach the ONNX graph intact."""
    torch.manual_seed(0)
    model = network_for(config(), 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(2):  # moves weights and running statistics away from ImageNet's
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(
            model(torch.randn(4, 3, 224, 224)), torch.tensor([0, 1, 2, 0])
        ).backward()
        optimizer.step()
    model.eval()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    network = lite_onnx(state, network_spec("efficientnet_lite0_finetuned"), {"dataset": "t"})
    tiles = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    session = ort.InferenceSession(network.uint8_bytes, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        x = torch.from_numpy(normalise(tiles, network.spec))
        expected = torch.flatten(
            torch.nn.functional.adaptive_avg_pool2d(model.extract_features(x), 1), 1
        )
    np.testing.assert_allclose(
        session.run(None, {"image": tiles})[0], expected.numpy(), atol=2e-4, rtol=0
    )
    assert network.lineage == {"dataset": "t"}


def test_only_the_last_blocks_learn_when_asked():
    model = network_for(config(trainable_blocks=2), 5)
    learning = {
        n.split(".")[0] + ("." + n.split(".")[1] if n.startswith("_blocks") else "")
        for n, p in model.named_parameters()
        if p.requires_grad
    }
    last = len(model._blocks)
    assert learning == {f"_blocks.{last - 2}", f"_blocks.{last - 1}", "_conv_head", "_bn1", "_fc"}


def test_augmentation_gives_each_tile_its_own_view():
    pixels = np.random.default_rng(0).integers(0, 256, (4, 256, 256, 3), dtype=np.uint8)
    pixels[:] = pixels[0]  # four copies of one tile
    out = augment(pixels, 224, config(), torch.Generator().manual_seed(0))
    assert out.shape == (4, 3, 224, 224) and out.dtype == torch.float32
    assert len({out[i].numpy().tobytes() for i in range(4)}) == 4


@pytest.mark.parametrize(
    ("processes", "local_mode"),
    [(1, True), (2, False)],  # 2 barrier tasks on Spark's executors, DistributedDataParallel
    ids=["one-local-process", "two-spark-tasks-ddp"],
)
def test_finetune_node_trains_on_spark_and_exports_a_network_with_its_lineage(
    spark, tmp_path, processes, local_mode
):
    tiles, index, quarantine = indexed(tmp_path)
    params = {**FINETUNE, "num_processes": processes, "local_mode": local_mode, "max_tiles": 12}
    network, split, history, metrics, record = finetune_network(
        index, quarantine, tiles, INGEST, params, "unit", PRETRAINED
    )
    assert network.spec.name == "efficientnet_lite0_finetuned" and network.spec.feature_dim == 1280
    assert "fine-tuned on unit" in network.spec.weights
    lineage = network.lineage
    assert lineage["base_network"] == "efficientnet_lite0" and lineage["dataset"] == "unit"
    assert lineage["classes"] == sorted(CLASSES) and lineage["processes"] == processes
    counts = lineage["split"]
    assert (counts["train_tiles"], counts["validation_tiles"], counts["not_used_tiles"]) == (
        9,
        3,
        6,
    )
    assert counts["train_tiles"] + counts["validation_tiles"] + counts["not_used_tiles"] == len(
        split
    )
    assert [row["epoch"] for row in history["epochs"]] == [1, 2]
    assert set(metrics) == {
        "finetune.train_loss",
        "finetune.train_accuracy",
        "finetune.validation_loss",
        "finetune.validation_accuracy",
        "finetune.seconds",
    }
    assert [m["step"] for m in metrics["finetune.validation_accuracy"]] == [1, 2]
    assert record["finetune.dataset"] == "unit" and record["finetune.split.seed"] == 3
    assert plot_learning_curves(history).axes
    summary = finetune_summary(history)
    assert summary["epochs_run"] == 2 and summary["best_epoch"] in (1, 2)
    tile = np.random.default_rng(2).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    session = ort.InferenceSession(network.uint8_bytes, providers=["CPUExecutionProvider"])
    assert np.isfinite(session.run(None, {"image": tile})[0]).all()


def test_finetune_needs_a_finetuned_name_and_a_lite_network(spark, tmp_path):
    tiles, index, quarantine = indexed(tmp_path, per_class=2)
    for name, message in (
        ("efficientnet_lite0", "_finetuned"),
        ("efficientnet_lite0_int8", "pretrained_model=efficientnet_lite0_finetuned_int8`"),
        ("resnet18_finetuned", "EfficientNet-Lite"),
    ):
        with pytest.raises(ValueError, match=message):
            finetune_network(
                index,
                quarantine,
                tiles,
                INGEST,
                {**FINETUNE, "pretrained_model": name},
                "u",
                PRETRAINED,
            )


def test_a_finetuned_int8_network_is_the_fine_tuned_one_quantized_on_its_train_tiles(
    spark, tmp_path
):
    tiles, index, quarantine = indexed(tmp_path, per_class=3)
    params = {**FINETUNE, "pretrained_model": "efficientnet_lite0_finetuned_int8", "max_epochs": 1}
    network, split, *_ = finetune_network(
        index, quarantine, tiles, INGEST, params, "unit", PRETRAINED
    )
    spec = network.spec
    assert spec.name == "efficientnet_lite0_finetuned_int8" and spec.feature_dim == 1280
    assert "fine-tuned on unit" in spec.weights and "int8" in spec.weights
    assert network.lineage["dataset"] == "unit"
    assert network.lineage["int8_calibration_tiles"] == min(4, (split["role"] == "train").sum())
    graph = onnx.load_model_from_string(network.onnx_bytes).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in graph.node}
    assert len(network.onnx_bytes) < 0.4 * len(
        lite_onnx(lite_state_dict("efficientnet_lite0"), spec).onnx_bytes
    )
    tile = np.random.default_rng(2).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    session = ort.InferenceSession(network.uint8_bytes, providers=["CPUExecutionProvider"])
    assert np.isfinite(session.run(None, {"image": tile})[0]).all()


def test_a_fine_tuned_network_is_registered_in_mlflow_with_its_lineage(
    tmp_path, lite0_network, monkeypatch
):
    # set_tracking_uri also writes MLFLOW_TRACKING_URI into the environment, which every later
    # `kedro run` subprocess of the session would inherit: monkeypatch puts it back as it was.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        state = lite_state_dict("efficientnet_lite0")
        network = lite_onnx(
            state,
            network_spec("efficientnet_lite0_finetuned"),
            {"dataset": "unit", "best_epoch": 3},
        )
        dataset = ONNXNetworkDataset(
            filepath=str(tmp_path / "finetuned" / "efficientnet_lite0_finetuned.onnx")
        )
        with mlflow.start_run():
            dataset.save(network)
        assert dataset.load().lineage == {"dataset": "unit", "best_epoch": 3}
        (version,) = MlflowClient().search_model_versions(
            "name='efficientnet_lite0_finetuned-unit'"
        )
        assert version.tags["dataset"] == "unit" and version.tags["best_epoch"] == "3"
        dataset_plain = ONNXNetworkDataset(filepath=str(tmp_path / "efficientnet_lite0.onnx"))
        with mlflow.start_run():
            dataset_plain.save(lite0_network)  # published weights: no lineage, nothing registered
        assert len(MlflowClient().search_registered_models()) == 1
    finally:
        mlflow.set_tracking_uri("")
    assert not list(tmp_path.rglob(f"*{STAGING_SUFFIX}*"))


def test_cells_whose_chips_cannot_be_read_are_found_by_the_executors_and_kept_out(spark, tmp_path):
    """A labelled raster set's cells in the mosaics' nodata collar: the executors read every
    train and validation cell's chip, and those featurize would quarantine get role
    ``unreadable`` (the test cells are not read here: evaluate counts them)."""
    import pandas as pd

    from aerial_landuse.core.tiles.demo_rasters import MosaicLayout, write_quads
    from aerial_landuse.pipelines.finetune.nodes import _without_unreadable_cells
    from aerial_landuse.storage import Storage, TileFolder
    from aerial_landuse.storage.raster_region import (
        CellSource,
        read_raster_region,
        region_raster_files,
    )

    layout = MosaicLayout(quad_px=512, overlap_px=32, collar_px=8)
    write_quads(tmp_path, "quad", np.zeros((16, 31), int), 32.0, layout, seed=2)
    tiles = TileFolder(str(tmp_path), labelled=False, storage=Storage())
    files = region_raster_files(tiles, "image")
    region = read_raster_region(tiles, files, parameters("ingest")["raster"])
    grid = region.grid
    cells = [
        grid.cell_id(c, r)
        for c in range(grid.col_min, grid.col_max + 1)
        for r in range(grid.row_min, grid.row_max + 1)
    ]
    roles = np.resize(["train", "validation", "test"], len(cells))
    split = pd.DataFrame({"path": cells, "label": "Forest", "role": roles})
    source = CellSource(region, tiles.storage, 64)
    expected = source.unreadable([c for c, r in zip(cells, roles, strict=True) if r != "test"])

    kept = _without_unreadable_cells(split, source, spark)
    assert expected and len(expected) < len(cells)  # the collar's cells, not all
    assert set(kept.loc[kept["role"] == "unreadable", "path"]) == set(expected)
    assert kept.loc[~kept["path"].isin(expected), "role"].tolist() == [
        r for c, r in zip(cells, roles, strict=True) if c not in expected
    ]
