"""Command-line tools beside the pipelines: Azurite control, upload, the sweep, the benchmark.

Nothing in the runtime package imports them. They work from a source checkout and from an
installed wheel alike: the project is the Kedro project around the current folder (or
``--project``), never a path relative to this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kedro.utils import find_kedro_project

from aerial_landuse.framework.console import quiet_third_party_warnings

# The tools run Kedro sessions in their own process, without the `kedro` command's start
# (the kedro.init entry point): the same third-party warnings are filtered before any import.
quiet_third_party_warnings()


def project_root(start: Path | None = None) -> Path:
    """The Kedro project that holds ``start`` (default: the current folder)."""
    here = (start or Path.cwd()).resolve()
    found = find_kedro_project(here)
    if found is None:
        raise SystemExit(
            f"{here} is not inside a Kedro project (no pyproject.toml with [tool.kedro]): "
            "run this from the aerial-landuse project folder."
        )
    return Path(found)


@contextmanager
def kedro_session(project: Path, **options: Any) -> Iterator[Any]:
    """``KedroSession.create(project_path=project, **options)`` for a tool that runs several
    sessions in its own process, with no MLflow run open before or after it: a dataset that logs
    to MLflow starts a run when none is active, and kedro-mlflow would log the next session into
    it ("The mlflow run ... is already active ... mlflow.yml is ignored")."""
    from kedro.framework.session import KedroSession

    _end_mlflow_runs()
    try:
        with KedroSession.create(project_path=project, **options) as session:
            yield session
    finally:
        _end_mlflow_runs()


def _end_mlflow_runs() -> None:
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()
