"""``TrackedArtifactDataset``: any file or folder dataset whose saves are also logged to the
active MLflow run, on any storage.

kedro-mlflow's MlflowArtifactDataset logs the dataset's path as a local file, so on blob storage
it fails (or logs nothing); this wrapper copies the saved file or folder through the dataset's
own filesystem first, so local and blob runs log the same artifacts from one catalog entry.
Files of a folder named in ``not_logged`` stay out of the run (what another artifact holds).
"""

from __future__ import annotations

import tempfile
from copy import deepcopy
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset
from kedro.io.core import parse_dataset_definition

from aerial_landuse.storage import storage_location


class TrackedArtifactDataset(AbstractDataset[Any, Any]):
    """Wraps ``dataset`` (a catalog definition with ``filepath`` or ``path``); after each save
    the written file or folder goes to the active MLflow run under ``artifact_path``, but for
    the folder's files named in ``not_logged``."""

    def __init__(
        self,
        dataset: dict[str, Any],
        artifact_path: str | None = None,
        not_logged: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        config = deepcopy(dataset)
        kind, arguments = parse_dataset_definition(config)
        self._dataset = kind(**arguments)
        location = config.get("filepath") or config.get("path")
        if not location:
            raise ValueError(f"TrackedArtifactDataset wraps a file or folder dataset: {config}")
        self._storage, self._path = storage_location(
            str(location), config.get("credentials"), config.get("fs_args")
        )
        self._artifact_path = artifact_path
        self._not_logged = frozenset(not_logged or ())
        self.metadata = metadata

    def load(self) -> Any:
        return self._dataset.load()

    def save(self, data: Any) -> None:
        self._dataset.save(data)
        if mlflow.active_run() is not None:
            self._log_artifact()

    def _log_artifact(self) -> None:
        fs = self._storage.fs
        is_folder = fs.isdir(self._path)
        if self._storage.protocol == "file" and not (is_folder and self._not_logged):
            mlflow.log_artifact(self._path, self._artifact_path)
            return
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / Path(self._path).name
            if is_folder:
                fs.get(f"{self._path}/", f"{local}/", recursive=True)
                for name in self._not_logged:
                    (local / name).unlink(missing_ok=True)
            else:
                fs.get(self._path, str(local))
            mlflow.log_artifact(str(local), self._artifact_path)

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "dataset": self._dataset._describe(),
            "artifact_path": self._artifact_path,
            "not_logged": sorted(self._not_logged),
        }
