"""The project's own default, end to end: `make run`'s steps with no --params (the fine-tuned
network of conf/base/globals.yml), then what a new user does next: the analysis notebook in
notebooks/ and the README's everyday commands, as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SMALL_DEMO, copy_project, kedro

GLOBALS = yaml.safe_load((ROOT / "conf" / "base" / "globals.yml").read_text())
DEFAULT_MODEL = f"{GLOBALS['pretrained_model']}_{GLOBALS['classifier']}"
# The README's everyday commands that run here on the default's outputs; the others need a
# download (resnet18's weights) or run in test_e2e on the frozen network's (lightgbm, scoring
# with a named model, the synapseml backend), where each costs less.
EVERYDAY = (
    "kedro run --pipelines=train,evaluate --params classifier=random_forest",
    "kedro run --only-missing-outputs",
)

SHORT_SEARCH = """\
train:
  tuning:
    method: train_validation_split
    grids:
      logistic_regression: {regParam: [0.01]}
      random_forest: {maxDepth: [8], minInstancesPerNode: [1]}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project after `make run`'s steps on a small demo set, fine-tuning shortened
    to one epoch: the demo tiles, `kedro run --pipelines=ingest,finetune`, then `kedro run`.
    The hyperparameter search runs as by default (tuned preset) on one held-out share instead of
    3 folds and on one grid point (conf/local, where a user overrides): 2 fits of 13;
    tests/pipelines/train tests the search itself."""
    project = copy_project(tmp_path_factory.mktemp("default") / "aerial-landuse", network=None)
    (project / "conf" / "local" / "parameters_train.yml").write_text(SHORT_SEARCH)
    kedro(project, "run", "--pipelines=demo_data", "--params", SMALL_DEMO)
    kedro(project, "run", "--pipelines=ingest,finetune", "--params", "finetune.max_epochs=1")
    kedro(project, "run")
    return project


@pytest.mark.e2e
def test_kedro_run_alone_runs_the_fine_tuned_default(project):
    assert GLOBALS["pretrained_model"] == "efficientnet_lite0_finetuned"
    outputs = project / "data" / "07_model_output" / "demo" / DEFAULT_MODEL
    metrics = json.loads((outputs / "metrics.json").read_text())
    assert metrics["model"]["pretrained_model"] == GLOBALS["pretrained_model"]
    assert metrics["accuracy"] > 0.4  # chance is 1/6; one epoch of fine-tuning on 60 tiles
    report = project / "data" / "08_reporting" / "demo" / DEFAULT_MODEL / GLOBALS["region"]
    html = (report / "report.html").read_text()
    assert 'id="finetuning"' in html and "for 1 epoch(s)" in html  # what ran, with its curves
    assert (report / "figures" / "finetune_curves.png").is_file()


@pytest.mark.e2e
def test_analysis_notebook_runs_in_notebooks_on_the_default_outputs(project):
    """As `kedro jupyter lab` opens it: in notebooks/, the project found above it; the MLflow
    store and Spark's log configuration are the project's, not files of notebooks/."""
    import nbformat
    from nbclient import NotebookClient

    folder = project / "notebooks"
    folder.mkdir(exist_ok=True)
    shutil.copy(ROOT / "notebooks" / "model_prediction_analysis.ipynb", folder)
    notebook = nbformat.read(folder / "model_prediction_analysis.ipynb", as_version=4)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    ]
    printed = "".join(output.get("text", "") for output in outputs)
    assert f"Model {DEFAULT_MODEL}: accuracy" in printed and "Developed:" in printed
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) >= 3  # confusion matrix, per-class metrics, land-use map (+ wrong tiles)
    assert "%load_ext kedro.ipython" in notebook.cells[1].source
    assert "Reconfiguration failed" not in printed
    assert sorted(p.name for p in folder.iterdir()) == ["model_prediction_analysis.ipynb"]


def _readme_everyday_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Everyday commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.startswith("kedro")]


@pytest.mark.e2e
def test_readme_everyday_commands_work_as_written_after_the_default_run(project):
    written = _readme_everyday_commands()
    for command in EVERYDAY:
        assert command in written, f"README no longer shows: {command}"
        kedro(project, *shlex.split(command)[1:])
    scored = project / "data" / "07_model_output" / "demo"
    assert (scored / f"{GLOBALS['pretrained_model']}_random_forest" / "metrics.json").is_file()
