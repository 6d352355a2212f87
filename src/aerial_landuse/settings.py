"""Project settings: hooks, the config loader (its resolvers; parameters merged key by key)."""

import os
from pathlib import Path

from aerial_landuse.core.networks.registry import features_name, network_file
from aerial_landuse.framework.config import ProjectConfigLoader
from aerial_landuse.framework.console import quiet_console
from aerial_landuse.framework.hooks import (
    BatchedParamsMlflowHook,
    ChosenModel,
    InputChecks,
    OnlyMissingOutputs,
    SparkHooks,
    SparkSaveTimer,
    StorageHooks,
)
from aerial_landuse.reporting.embedded import photo_sheet_files

# Also a kedro.init entry point (earlier, for the CLI); here for notebooks and KedroSession users.
quiet_console()

HOOKS = (
    InputChecks(),
    ChosenModel(),
    SparkHooks(),
    StorageHooks(),
    SparkSaveTimer(),
    OnlyMissingOutputs(),
    BatchedParamsMlflowHook(),  # last: called before the others, as kedro-mlflow's own was
)
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)  # its hook is the one above (its distribution name)


def jars_in(folder: str) -> str:
    """``${jars_in:<folder>}`` in spark.yml: the folder's jars as a spark.jars list ('' if none)."""
    return ",".join(sorted(str(p.resolve()) for p in Path(folder).glob("*.jar")))


def tracking_uri(store: str) -> str:
    """``${tracking_uri:<sqlite file>}`` in mlflow.yml: MLFLOW_TRACKING_URI when set, else the
    sqlite store in that file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store}"


def features_of(network: str, tta: int | str) -> str:
    """``${features_of:<network>,<tta>}``: the feature set's name (network, + _tta<k> with TTA)."""
    return features_name(network, int(tta))


CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment's or a user's parameter file overrides single keys, not whole blocks.
    "merge_strategy": {"parameters": "soft", "spark": "soft", "globals": "soft"},
    "config_patterns": {
        "spark": ["spark*", "spark*/**"],
    },
    "custom_resolvers": {
        "jars_in": jars_in,
        "tracking_uri": tracking_uri,
        "features_of": features_of,
        "network_file": network_file,
        "photo_sheets": photo_sheet_files,
    },
}
