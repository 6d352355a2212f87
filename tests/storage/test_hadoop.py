"""Hadoop URLs and credentials of a dataset's storage, for what Spark writes itself."""

import pytest

from aerial_landuse.storage import storage_location
from aerial_landuse.storage.hadoop import hadoop_credentials, hadoop_url
from aerial_landuse.tools.azurite import EMULATOR_KEY

EMULATOR = (
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={EMULATOR_KEY};"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)


def test_local_paths_are_file_urls(tmp_path):
    storage, path = storage_location(str(tmp_path / "m"))
    assert hadoop_url(storage, path) == f"file://{tmp_path}/m"
    assert hadoop_credentials(storage, "") == {}


def test_azurite_is_hadoops_storage_emulator():
    storage, path = storage_location("abfs://trainedmodels/demo/m", {"connection_string": EMULATOR})
    assert hadoop_url(storage, path) == "wasb://trainedmodels@storageemulator/demo/m"
    assert hadoop_credentials(storage, "trainedmodels") == {}


def test_a_local_server_elsewhere_than_the_emulator_port_is_refused_with_the_fix():
    other = EMULATOR.replace(":10000/", ":10999/")
    storage, path = storage_location("abfs://trainedmodels/m", {"connection_string": other})
    with pytest.raises(ValueError, match="make azurite"):
        hadoop_url(storage, path)


def test_an_azure_account_is_reached_over_wasbs_with_its_key_or_sas():
    keyed, path = storage_location(
        "abfs://trainedmodels/demo/m", {"account_name": "acct", "account_key": "k=="}
    )
    assert hadoop_url(keyed, path) == "wasbs://trainedmodels@acct.blob.core.windows.net/demo/m"
    assert hadoop_credentials(keyed, "trainedmodels") == {
        "fs.azure.account.key.acct.blob.core.windows.net": "k=="
    }
    sas, _ = storage_location(
        "abfs://trainedmodels/m", {"account_name": "acct", "sas_token": "?sv=1"}
    )
    assert hadoop_credentials(sas, "trainedmodels") == {
        "fs.azure.sas.trainedmodels.acct.blob.core.windows.net": "sv=1"
    }


def test_hdinsight_wasbs_urls_keep_their_account():
    storage, path = storage_location(
        "wasbs://trainedmodels@acct.blob.core.windows.net/demo/m", {"account_name": "acct"}
    )
    assert hadoop_url(storage, path) == "wasbs://trainedmodels@acct.blob.core.windows.net/demo/m"
    assert hadoop_credentials(storage, "trainedmodels") == {}  # the cluster's core-site has it
