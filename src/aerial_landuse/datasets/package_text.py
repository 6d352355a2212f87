"""``PackageTextDataset``: a text file shipped inside an installed Python package (read-only).

kedro-datasets' ``text.TextDataset`` reads paths; a template that ships with the package (the
report's) has no stable path once the package is installed as a wheel, so it is read with
``importlib.resources`` instead.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class PackageTextDataset(AbstractDataset[None, str]):
    """``package``'s resource ``resource`` (e.g. ``templates/report.html``) as text."""

    def __init__(self, package: str, resource: str, metadata: dict[str, Any] | None = None) -> None:
        self._package = package
        self._resource = resource
        self.metadata = metadata

    def load(self) -> str:
        return files(self._package).joinpath(self._resource).read_text(encoding="utf-8")

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._package}/{self._resource} ships with the package: read-only.")

    def _exists(self) -> bool:
        return files(self._package).joinpath(self._resource).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"package": self._package, "resource": self._resource}
