"""``WholeFileDataset``: any single-file dataset (kedro-datasets' JSON, CSV, Parquet, text,
matplotlib...) saved whole, one writer at a time (storage/atomic.py).

kedro-datasets write a file in place: a run killed mid-save leaves a truncated JSON or CSV that
``--only-missing-outputs`` then takes for done, and two runs can interleave their bytes. This
wrapper has the wrapped dataset write a unique temporary file beside the target, under the
target's lock, and moves it in when complete; loads and ``exists`` are the wrapped dataset's.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from kedro.io import AbstractDataset
from kedro.io.core import parse_dataset_definition

from aerial_landuse.storage import storage_location
from aerial_landuse.storage.atomic import unique_file_name, whole_file


class WholeFileDataset(AbstractDataset[Any, Any]):
    """``dataset`` (a dataset type, or a definition without ``filepath``) at ``filepath``; the
    other arguments (``credentials``, ``save_args``, ...) are the wrapped dataset's."""

    def __init__(
        self,
        dataset: str | dict[str, Any],
        filepath: str,
        metadata: dict[str, Any] | None = None,
        **arguments: Any,
    ) -> None:
        definition = {"type": dataset} if isinstance(dataset, str) else deepcopy(dataset)
        self._definition = {**definition, **arguments}
        self._filepath = filepath
        self._dataset = self._at(filepath)
        self._storage, self._path = storage_location(
            filepath, arguments.get("credentials"), arguments.get("fs_args")
        )
        self.metadata = metadata

    def _at(self, filepath: str) -> AbstractDataset:
        kind, arguments = parse_dataset_definition({**self._definition, "filepath": filepath})
        return kind(**arguments)

    def save(self, data: Any) -> None:
        temporary = unique_file_name(self._filepath)
        _, temporary_path = storage_location(
            temporary, self._definition.get("credentials"), self._definition.get("fs_args")
        )
        with whole_file(self._storage.fs, self._path, temporary_path):
            self._at(temporary).save(data)

    def load(self) -> Any:
        return self._dataset.load()

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._storage.uri(self._path), "dataset": self._definition["type"]}
