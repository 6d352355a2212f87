"""The kedro commands a user meets first: kedro-viz shows the data layers and one collapsible
namespace per stage (`kedro viz build`); read-only commands start no Spark JVM and print no
warning a user cannot act on."""

from __future__ import annotations

import json

from tests.conftest import copy_project, kedro

STAGES = ("ingest", "featurize", "train", "evaluate", "score", "report")
LAYERS = [  # the data flow's order; "pretrained" (the exported network) has no upstream layer
    "raw",
    "intermediate",
    "feature",
    "model_input",
    "models",
    "model_output",
    "reporting",
    "tracking",
]
ALL_LAYERS = {"pretrained", *LAYERS}


def test_viz_build_has_layers_and_a_namespace_per_stage(tmp_path):
    project = copy_project(tmp_path / "aerial-landuse")
    printed = kedro(project, "viz", "build")
    assert "Warning" not in printed and "circular" not in printed.lower()
    graph = json.loads((project / "build" / "api" / "main").read_text())

    assert set(graph["layers"]) == ALL_LAYERS
    assert [layer for layer in graph["layers"] if layer in LAYERS] == LAYERS
    stored = [
        n
        for n in graph["nodes"]
        if n["type"] == "data" and not str(n["dataset_type"]).endswith("MemoryDataset")
    ]
    assert len(stored) > 20 and all(n["layer"] in ALL_LAYERS for n in stored)

    modular = graph["modular_pipelines"]
    assert set(STAGES) <= set(modular)
    root_children = {c["id"]: c["type"] for c in modular["__root__"]["children"]}
    assert all(root_children.get(stage) == "modularPipeline" for stage in STAGES)
    assert "task" not in root_children.values()  # every node sits in its stage's box
    for stage in STAGES:
        tasks = [c for c in modular[stage]["children"] if c["type"] == "task"]
        assert tasks, stage


def test_read_only_commands_start_no_spark_and_print_no_third_party_warning(tmp_path):
    project = copy_project(tmp_path / "aerial-landuse")
    printed = {}
    for command in (("--help",), ("catalog", "describe-datasets"), ("registry", "list")):
        printed[command] = kedro(project, *command)
        assert "Warning" not in printed[command], command
        assert "Add type hints" not in printed[command], command
        assert "Spark 3" not in printed[command] and "SparkContext" not in printed[command], command
    assert "labelled_features" in printed["catalog", "describe-datasets"]


def test_a_user_error_is_said_once_without_a_traceback_before_any_work(tmp_path):
    project = copy_project(tmp_path / "aerial-landuse")
    printed = kedro(
        project, "run", "--params", "featurize.batch_size=0,model_name=../../x", check=False
    )
    assert printed.count("Error: Parameter(s) not valid") == 1
    assert "featurize.batch_size = 0" in printed and "model_name = '../../x'" in printed
    assert "Traceback" not in printed and "╭" not in printed  # no (rich) traceback
    assert "Spark 3" not in printed and not (project / "data").exists()  # nothing started
