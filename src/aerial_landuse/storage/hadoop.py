"""The Hadoop URL of a dataset's location, for what Spark itself reads and writes (Spark ML's
model format, written by the executors): ``file://`` locally, Hadoop's WASB client on blob storage.

fsspec and Hadoop name the same blob differently: ``abfs://<container>/<key>`` (credentials
give the account) is ``wasbs://<container>@<account>.blob.core.windows.net/<key>`` for Hadoop,
and Azurite is Hadoop's storage emulator, ``wasb://<container>@storageemulator/<key>``. Hadoop's
emulator mode always connects to http://127.0.0.1:10000/devstoreaccount1 with the emulator's
published key, so Azurite serves that account there (tools/azurite.py).
"""

from __future__ import annotations

from urllib.parse import urlparse

from .location import BLOB_PROTOCOLS, Storage, blob_account

EMULATOR_ACCOUNT = "devstoreaccount1"
EMULATOR_PORT = 10000
EMULATOR_HOST = "storageemulator"  # Hadoop's fs.azure.storage.emulator.account.name default


def is_emulator(endpoint: str | None) -> bool:
    """Whether a blob endpoint is a local server (Azurite) rather than an Azure account."""
    return bool(endpoint) and urlparse(str(endpoint)).hostname in ("127.0.0.1", "localhost")


def _check_emulator_endpoint(endpoint: str) -> None:
    parsed = urlparse(endpoint)
    if parsed.port != EMULATOR_PORT or parsed.path.strip("/") != EMULATOR_ACCOUNT:
        raise ValueError(
            f"Spark's Hadoop client reaches a local blob server only as the storage emulator at "
            f"http://127.0.0.1:{EMULATOR_PORT}/{EMULATOR_ACCOUNT}, not {endpoint}: start Azurite "
            f"with `make azurite` (port {EMULATOR_PORT}) and use the connection string it writes."
        )


def hadoop_url(storage: Storage, path: str) -> str:
    """``path`` on ``storage`` as a URL that Spark's executors open through Hadoop."""
    if storage.protocol == "file":
        return f"file://{path}"
    if storage.protocol not in BLOB_PROTOCOLS:
        raise ValueError(
            f"Spark writes trained models through Hadoop, which this project configures for "
            f"local disk and Azure blob storage, not {storage.protocol}://."
        )
    container, _, key = path.partition("/")
    account = blob_account(storage.storage_options)
    if is_emulator(account["endpoint"]):
        _check_emulator_endpoint(str(account["endpoint"]))
        return f"wasb://{container}@{EMULATOR_HOST}/{key}"
    if not account["name"]:
        raise ValueError(
            f"Spark needs the storage account of {storage.uri(path)}: set account_name (or a "
            "connection string) in the credentials (conf/base/credentials.yml)."
        )
    return f"wasbs://{container}@{account['name']}.blob.core.windows.net/{key}"


def hadoop_credentials(storage: Storage, container: str) -> dict[str, str]:
    """The Hadoop settings that let Spark reach ``container`` with the storage's credentials
    (none locally, on the emulator, or where the cluster's own configuration has them)."""
    account = blob_account(storage.storage_options)
    if storage.protocol == "file" or is_emulator(account["endpoint"]) or not account["name"]:
        return {}
    host = f"{account['name']}.blob.core.windows.net"
    if account["key"]:
        return {f"fs.azure.account.key.{host}": str(account["key"])}
    if account["sas_token"]:
        return {f"fs.azure.sas.{container}.{host}": str(account["sas_token"]).lstrip("?")}
    return {}
