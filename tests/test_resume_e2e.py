"""A run killed with SIGKILL mid-featurize or mid-score leaves the previous good outputs intact,
and `kedro run --only-missing-outputs` then finishes the work, keeping the parts the killed run
had finished: the final outputs equal those of an uninterrupted run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from aerial_landuse.storage.atomic import STAGING_SUFFIX
from aerial_landuse.tools.processes import group_alive, stop_groups
from tests.conftest import MODEL, REGION, copy_of_e2e, kedro, run_environment

FEATURES = Path("data/04_feature/demo/efficientnet_lite0")
SCORE_FEATURES = (
    Path("data/04_feature/regions") / REGION / "efficientnet_lite0" / "features.parquet"
)
OUTPUTS = Path("data/07_model_output/demo") / MODEL / REGION


@pytest.fixture(scope="module")
def project(e2e_template, tmp_path_factory) -> Path:
    """A copy of its own of the e2e project after its uninterrupted `kedro run` (the kills below
    change only this copy)."""
    return copy_of_e2e(e2e_template, tmp_path_factory.mktemp("resume"))


def _features(project: Path, tile_set: str) -> pd.DataFrame:
    where = SCORE_FEATURES if tile_set == "score" else FEATURES / f"{tile_set}.parquet"
    frame = pd.read_parquet(project / where).assign(path=lambda f: _in_project(f["path"]))
    return frame.sort_values("id").reset_index(drop=True)


def _predictions(project: Path) -> pd.DataFrame:
    frame = pd.read_csv(project / OUTPUTS / "score_predictions.csv")
    return frame.assign(filepath=_in_project(frame["filepath"])).sort_values("filepath")


def _in_project(paths: pd.Series) -> pd.Series:
    """Tile paths from data/ on: the project is a copy of the e2e template, whose outputs name
    the template's tiles."""
    return paths.str.replace(r"^.*?/data/", "data/", regex=True)


def _killed_while_writing(project: Path, watched: Path, *args: str, after_parts: int = 0) -> None:
    """Start ``kedro *args``, SIGKILL its whole process group (driver, JVM, Python workers) as
    soon as ``watched`` is being written (its staging folder appears) and holds ``after_parts``
    finished part files."""

    def ready() -> bool:
        stagings = list(project.glob(f"{watched}{STAGING_SUFFIX}-*"))
        return any(len(list(s.glob("part-*.parquet"))) >= after_parts for s in stagings)

    run = subprocess.Popen(
        [sys.executable, "-m", "kedro", *args],
        cwd=project,
        env=run_environment(),  # as every `kedro` of the tests
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not ready() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready(), f"kedro {' '.join(args)} ended before writing {watched}"
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=300)
    finally:
        stop_groups([run.pid])
    assert not group_alive(run.pid) and run.returncode == -signal.SIGKILL


@pytest.mark.e2e
def test_killed_featurize_keeps_the_previous_features(project):
    before = _features(project, "labelled")
    _killed_while_writing(project, FEATURES / "labelled.parquet", "run", "--pipelines=featurize")
    assert (project / FEATURES / "labelled.parquet" / "_SUCCESS").is_file()
    pd.testing.assert_frame_equal(_features(project, "labelled"), before)
    printed = kedro(project, "run", "--only-missing-outputs")  # nothing half-written is trusted
    assert "Skipping all" in printed


@pytest.mark.e2e
def test_killed_score_run_resumes_with_only_missing_outputs_to_the_same_result(project):
    expected_features, expected = _features(project, "score"), _predictions(project)
    for output in (SCORE_FEATURES, OUTPUTS / "score_predictions.parquet"):
        subprocess.run(["rm", "-rf", str(project / output)], check=True)
    _killed_while_writing(
        project,
        SCORE_FEATURES,
        "run",
        "--pipelines=score",
        "--params=featurize.rows_per_partition=2",  # 10 tasks: killed after the first's part
        after_parts=1,
    )
    assert not (project / OUTPUTS / "score_predictions.parquet").exists()

    csv = project / OUTPUTS / "score_predictions.csv"
    stale_stamp = csv.stat().st_mtime
    printed = kedro(project, "run", "--only-missing-outputs")
    assert "inputs rewritten by this run" in printed
    resumed_from = re.search(r"Resuming: (\d+) of (\d+) tiles were featurized", printed)
    assert resumed_from, printed[-3000:]  # per partition: the killed run's parts are kept
    assert 2 <= int(resumed_from[1]) < int(resumed_from[2]) == len(expected_features)
    assert csv.stat().st_mtime > stale_stamp  # derived from the new predictions, not left stale
    pd.testing.assert_frame_equal(_features(project, "score"), expected_features)
    resumed = _predictions(project)
    assert list(resumed["filepath"]) == list(expected["filepath"])
    assert list(resumed["pred_label"]) == list(expected["pred_label"])
    assert resumed["confidence"].to_numpy() == pytest.approx(expected["confidence"].to_numpy())
    assert not list(project.glob(f"{SCORE_FEATURES}{STAGING_SUFFIX}*"))
