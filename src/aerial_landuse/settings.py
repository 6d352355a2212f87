"""Project settings: Spark hook, config patterns for spark.yml, OmegaConfigLoader."""

import warnings

from kedro.config import OmegaConfigLoader

from aerial_landuse.hooks import SparkHooks, StorageHooks

# Kedro 1.7 itself still calls OmegaConf's deprecated register_new_resolver: not ours to fix.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")

HOOKS = (SparkHooks(), StorageHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "spark": ["spark*", "spark*/**"],
    },
}
