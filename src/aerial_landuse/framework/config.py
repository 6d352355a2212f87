"""The project's config loader: Kedro's OmegaConfigLoader with the project's own resolvers.

There is one catalog (``conf/base/catalog.yml``) for every environment: where each kind of data
lives follows ``globals.yml``'s ``storage`` (folders under ``data/``, or one blob container per
kind of data), which is all that the blob environments change besides their Spark settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import OmegaConf

from aerial_landuse.storage import container_url

STORAGE_KINDS = ("local", "blob")


class ProjectConfigLoader(OmegaConfigLoader):
    """OmegaConfigLoader with ``${project_path:...}``, ``${place:...}`` and
    ``${chosen_model:...}``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._chosen_model: str | None = None
        super().__init__(*args, **kwargs)
        self._register_own_resolvers()
        # read now: globals cannot be loaded while another file resolves
        self._storage = self._storage_settings()

    def __getitem__(self, key: str) -> dict[str, Any]:
        self._register_own_resolvers()  # OmegaConf's resolvers are global: this loader's, now
        return super().__getitem__(key)

    def _register_own_resolvers(self) -> None:
        """Like Kedro's ``globals``: registered per loader (each knows its project and storage)."""
        OmegaConf.register_resolver("project_path", self.project_path, replace=True)
        OmegaConf.register_resolver("place", self.place, replace=True)
        OmegaConf.register_resolver("chosen_model", self.chosen_model, replace=True)

    def choose_model(self, name: str) -> None:
        """The model ``model_name=best`` stands for in this run (the ChosenModel hook says it
        once, before the catalog is made; configuration loading itself asks MLflow nothing)."""
        self._chosen_model = name

    def chosen_model(self, requested: str) -> str:
        """``${chosen_model:<model_name>}``: the chosen model for ``best``, else the name."""
        return self._chosen_model if requested == "best" and self._chosen_model else requested

    def project_path(self, relative: str = "") -> str:
        """``${project_path:<relative>}``: ``relative`` under the project root (the folder that
        holds ``conf/``), whatever the working directory (a notebook runs in ``notebooks/``)."""
        return str(Path(self.conf_source).resolve().parent / relative)

    def place(self, folder: str, container: str) -> str:
        """``${place:<folder>,<container>}``: where one kind of data lives in this environment,
        ``folder`` (under the project) on local storage, the blob ``container``'s URL on blob."""
        storage = self._storage
        if storage["kind"] == "local":
            return folder
        account = self.runtime_params.get("storage_account") or storage["account"]
        return container_url(storage["scheme"], container, account)

    def _storage_settings(self) -> dict[str, Any]:
        """globals.yml's ``storage`` block of this environment."""
        storage = dict(self["globals"].get("storage") or {})
        if storage.get("kind") not in STORAGE_KINDS:
            raise ValueError(
                f"globals.yml storage.kind is {storage.get('kind')!r} in environment "
                f"'{self.env}': set it to one of {', '.join(STORAGE_KINDS)}."
            )
        return storage
