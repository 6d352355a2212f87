"""The blob errors users hit get a clear message naming the setting and the fix (real Azurite)."""

import time

import pytest

from aerial_landuse.storage import (
    BlobAccount,
    StorageError,
    blob_containers,
    check_containers,
    create_containers,
)
from aerial_landuse.tools.processes import free_port

CATALOG = {
    "train_tiles": {"type": "x", "path": "abfs://train", "credentials": "azure_storage"},
    "tile_summaries": {
        "type": "x",
        "filepath": "abfs://middlesexma2016/tile_summaries.csv",
        "credentials": "azure_storage",
    },
    "metrics": {"type": "x", "filepath": "data/07_model_output/metrics.json"},
}


def _accounts(connection_string, catalog=CATALOG):
    return blob_containers(
        catalog, {"azure_storage": {"connection_string": connection_string, "account_key": None}}
    )


def test_catalog_containers_are_found_per_account():
    accounts = _accounts(
        "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k;BlobEndpoint=http://127.0.0.1:1/a;"
    )
    ((account, containers),) = accounts.items()
    assert containers == {"train": ["train_tiles"], "middlesexma2016": ["tile_summaries"]}
    assert account.endpoint == ("127.0.0.1", 1, "http://127.0.0.1:1/a") and "k" not in repr(account)


def test_existing_containers_pass(azurite):
    accounts = _accounts(azurite.connection_string)
    create_containers(accounts)
    check_containers(accounts, "azurite")


def test_typo_in_a_container_name_names_it_and_suggests_the_right_one(azurite):
    create_containers(_accounts(azurite.connection_string))
    typo = {**CATALOG, "train_tiles": {**CATALOG["train_tiles"], "path": "abfs://trian"}}
    with pytest.raises(StorageError) as error:
        check_containers(_accounts(azurite.connection_string, typo), "azurite")
    message = str(error.value)
    assert (
        "'trian' (did you mean 'train'?)" in message
        and "train_tiles" in message
        and "conf/azurite/catalog.yml" in message
    )
    assert azurite.key not in message


def test_wrong_key_says_the_credentials_were_rejected(azurite):
    wrong = azurite.connection_string.replace(azurite.key, "A" * 43 + "=")
    with pytest.raises(
        StorageError, match=r"rejected the credentials.*conf/local/credentials.yml"
    ) as error:
        check_containers(_accounts(wrong), "azurite")
    assert "A" * 43 not in str(error.value)


def test_azurite_not_running_fails_fast_with_the_fix():
    closed = f"DefaultEndpointsProtocol=http;AccountName=aerial;AccountKey=eA==;BlobEndpoint=http://127.0.0.1:{free_port()}/aerial;"
    start = time.monotonic()
    with pytest.raises(
        StorageError,
        match=r"Cannot reach blob storage at http://127\.0\.0\.1:\d+/aerial.*make azurite",
    ):
        check_containers(_accounts(closed), "azurite")
    assert time.monotonic() - start < 10


def test_account_without_endpoint_points_at_azure():
    account = BlobAccount("azure_storage", {"account_name": "myaccount", "account_key": "secret"})
    assert account.endpoint == (
        "myaccount.blob.core.windows.net",
        443,
        "https://myaccount.blob.core.windows.net",
    )


def _read_only_connection_string(azurite) -> str:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    from aerial_landuse.tools.azurite import ACCOUNT

    sas = generate_account_sas(
        ACCOUNT,
        azurite.key,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return f"BlobEndpoint={azurite.endpoint};SharedAccessSignature={sas}"


def test_a_read_only_sas_fails_before_the_run_where_it_writes(azurite):
    from aerial_landuse.storage import check_writable, written_containers

    create_containers(_accounts(azurite.connection_string))
    read_only = _read_only_connection_string(azurite)
    ((account, containers),) = _accounts(read_only).items()
    check_containers({account: containers}, "azurite")  # it may list and read...
    written = written_containers(containers, ["tile_summaries", "metrics"])
    assert written == ["middlesexma2016"]  # where the run writes (train tiles are only read)
    with pytest.raises(StorageError, match=r"cannot write to container 'middlesexma2016'") as error:
        check_writable(account, written)  # ...but not write, and says so before any work
    assert "sp=rwdlc" in str(error.value) and "sig=" not in str(error.value)
    ((full, _),) = _accounts(azurite.connection_string).items()
    check_writable(full, written)  # a key may
