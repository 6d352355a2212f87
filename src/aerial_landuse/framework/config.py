"""The project's config loader: Kedro's OmegaConfigLoader with one shared layer per kind of storage.

``conf/base`` is the embedded default (local disk). Environments that keep their data on blob
storage (azurite, azure, hdinsight, cluster) all read ``conf/blob`` between base and themselves,
so there is one blob catalog and each environment states only what differs (its globals: protocol,
account, endpoint; its Spark settings). Files of the environment override the layer key by key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import DictConfig


class LayeredConfigLoader(OmegaConfigLoader):
    """OmegaConfigLoader that reads ``conf/<layer>`` under an environment named in ``layers``."""

    def __init__(self, *args: Any, layers: dict[str, str] | None = None, **kwargs: Any) -> None:
        self._layers = dict(layers or {})  # set first: the parent's __init__ reads globals
        resolvers = {
            **(kwargs.pop("custom_resolvers", None) or {}),
            "project_path": self.project_path,
        }
        super().__init__(*args, custom_resolvers=resolvers, **kwargs)

    def project_path(self, relative: str = "") -> str:
        """``${project_path:<relative>}``: ``relative`` under the project root (the folder that
        holds ``conf/``), whatever the working directory (a notebook runs in ``notebooks/``)."""
        return str(Path(self.conf_source).resolve().parent / relative)

    @property
    def layer(self) -> str | None:
        """The shared layer of the run's environment, if it has one."""
        return self._layers.get(self.env or self.default_run_env)

    def _read_raw_config(
        self, key: str
    ) -> tuple[dict[Path, DictConfig], dict[Path, DictConfig], str, str, set[Path]]:
        base, env, base_path, env_path, processed = super()._read_raw_config(key)
        if self.layer is None:
            return base, env, base_path, env_path, processed
        shared = self._read_dir_configs(
            self._get_conf_env_path(self.layer),
            self.config_patterns[key],
            key,
            processed,
            key == "credentials",
        )
        return base, {**shared, **env}, base_path, env_path, processed
