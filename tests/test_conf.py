"""Configuration invariants."""

from pathlib import Path

import pytest
import yaml

CONF = Path(__file__).resolve().parents[1] / "conf"


def test_azure_and_azurite_environments_share_one_catalog():
    assert (CONF / "azure" / "catalog.yml").read_text() == (
        CONF / "azurite" / "catalog.yml"
    ).read_text()


def test_no_committed_config_holds_a_secret_value():
    credentials = yaml.safe_load((CONF / "base" / "credentials.yml").read_text())
    for entry in credentials.values():
        for value in entry.values():
            assert str(value).startswith("${oc.env:"), value


@pytest.mark.parametrize("env", ["local", "azurite", "azure", "hdinsight"])
def test_every_environment_catalog_resolves_and_instantiates(env, monkeypatch):
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from aerial_landuse.pipeline_registry import register_pipelines

    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "exampleaccount")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "ZXhhbXBsZQ==")
    loader = OmegaConfigLoader(str(CONF), base_env="base", default_run_env="local", env=env)
    catalog = DataCatalog.from_config(loader["catalog"], loader["credentials"])
    for pipeline in register_pipelines().values():
        for name in pipeline.datasets():
            if not name.startswith("params:") and name != "parameters":
                catalog.get(name)  # resolves factory patterns and builds the dataset
