"""The registry of networks: names, sizes, files and how each is made."""

import pytest

from aerial_landuse.core.networks.registry import (
    is_network_name,
    making_pipelines,
    needs_torch,
    network_file,
    network_spec,
)


@pytest.mark.parametrize(
    ("name", "size", "pipelines", "torch", "file"),
    [
        ("efficientnet_lite0", 224, "pretrained", False, "efficientnet_lite0.onnx"),
        ("efficientnet_lite2_int8", 260, "pretrained", False, "efficientnet_lite2_int8.onnx"),
        ("resnet18", 224, "pretrained", True, "resnet18.onnx"),
        (
            "efficientnet_lite1_finetuned",
            240,
            "ingest,finetune",
            True,
            "finetuned/demo/efficientnet_lite1_finetuned.onnx",
        ),
        (
            "efficientnet_lite0_finetuned_int8",
            224,
            "ingest,finetune",
            True,
            "finetuned/demo/efficientnet_lite0_finetuned_int8.onnx",
        ),
        (
            "efficientnet_lite0+efficientnet_lite1",
            240,
            "pretrained",
            False,
            "efficientnet_lite0+efficientnet_lite1.onnx",
        ),
    ],
)
def test_what_the_registry_says_of_each_kind_of_name(name, size, pipelines, torch, file):
    assert is_network_name(name)
    assert network_spec(name).image_size == size
    assert making_pipelines(name) == pipelines
    assert needs_torch(name) is torch
    assert network_file(name, "demo") == file


def test_an_unknown_name_lists_the_known_ones():
    assert not is_network_name("vgg16")
    assert not is_network_name("efficientnet_lite0_int8_finetuned")  # quantized, then trained?
    assert not is_network_name("efficientnet_lite0_int8_int8")
    with pytest.raises(ValueError, match="choose one of .*efficientnet_lite0"):
        network_spec("vgg16")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image_size", 10**6),
        ("image_size", 0),
        ("image_size", "224"),
        ("feature_dim", -1),
        ("std", [0, 1, 1]),
        ("mean", [1, 2]),
        ("resize", "lanczos"),
    ],
)
def test_a_network_files_spec_out_of_range_is_refused(field, value):
    import json
    from dataclasses import asdict

    from aerial_landuse.core.networks.registry import NETWORKS, NetworkSpec

    stored = {**asdict(NETWORKS["efficientnet_lite0"]), field: value}
    with pytest.raises(ValueError, match=f"out-of-range {field}.*pipelines=pretrained"):
        NetworkSpec.from_json(json.dumps(stored))
    assert (
        NetworkSpec.from_json(NETWORKS["efficientnet_lite0"].to_json())
        == NETWORKS["efficientnet_lite0"]
    )
