"""The Makefile's view of the network registry (tools/network.py)."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def network_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aerial_landuse.tools.network", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "printed"),
    [
        (("efficientnet_lite0_finetuned", "--pipelines"), "ingest,finetune"),
        (("efficientnet_lite0", "--pipelines"), "pretrained"),
        (
            ("efficientnet_lite0_finetuned", "--file", "demo"),
            "finetuned/demo/efficientnet_lite0_finetuned.onnx",
        ),
    ],
)
def test_prints_one_line_of_what_the_registry_says(args, printed):
    done = network_tool(*args)
    assert done.returncode == 0 and done.stdout == printed + "\n" and done.stderr == ""


def test_needs_torch_is_an_exit_status_and_an_unknown_name_is_refused():
    assert network_tool("efficientnet_lite0_finetuned", "--needs-torch").returncode == 0
    assert network_tool("efficientnet_lite0", "--needs-torch").returncode == 1
    unknown = network_tool("vgg16", "--pipelines")
    assert unknown.returncode == 2 and "choose one of" in unknown.stderr
