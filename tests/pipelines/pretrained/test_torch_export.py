"""Exports that need torch (the ``torch`` extra, which ``make test`` installs): the torch-free
EfficientNet-Lite graph equals the torch reference implementation, and torchvision networks export."""

import numpy as np
import onnxruntime as ort
import pytest

from aerial_landuse.core.networks.onnx_graphs import build_torch_extractor, export_onnx, normalise
from aerial_landuse.core.networks.registry import NETWORKS

torch = pytest.importorskip("torch", reason="the torch extra is not installed")


def _tiles(n=3, size=224, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _onnx_features(network, batch):
    session = ort.InferenceSession(network.uint8_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {"image": batch})[0]


def _torch_features(extractor, batch, name):
    with torch.no_grad():
        return extractor(torch.from_numpy(normalise(batch, NETWORKS[name]))).numpy()


def test_torch_free_lite0_graph_equals_the_torch_reference_within_1e4(lite0_network):
    batch = _tiles()
    extractor, _ = build_torch_extractor("efficientnet_lite0", pretrained=True)
    expected = _torch_features(extractor, batch, "efficientnet_lite0")
    actual = _onnx_features(lite0_network, batch)
    assert actual.shape == (3, 1280)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", ["resnet18", "alexnet"])
def test_seed_networks_export_with_random_weights_and_match_torch(name):
    torch.manual_seed(0)
    network = export_onnx(name, pretrained=False)
    torch.manual_seed(0)
    extractor, _ = build_torch_extractor(name, pretrained=False)
    batch = _tiles(2)
    expected = _torch_features(extractor, batch, name)
    actual = _onnx_features(network, batch)
    assert actual.shape == (2, NETWORKS[name].feature_dim)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-4)
    assert network.spec.weights.startswith("random")
