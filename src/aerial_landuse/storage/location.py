"""Where a dataset's files live: the filesystem of a URL, with its credentials, for driver and executors."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import split_protocol

from .retry import with_retries


@cache
def _filesystem(protocol: str, options_key: tuple) -> fsspec.AbstractFileSystem:
    """One filesystem per process (driver or executor) and storage account."""
    return fsspec.filesystem(protocol, **dict(options_key))


def _freeze(options: dict[str, Any]) -> tuple:
    return tuple(sorted((k, _freeze(v) if isinstance(v, dict) else v) for k, v in options.items()))


@dataclass(frozen=True)
class Storage:
    """A filesystem (local disk or object storage) and its options; picklable, so Spark ships it
    to executors, which open their own filesystem from it (one per process)."""

    protocol: str = "file"
    storage_options: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return _filesystem(self.protocol, _freeze(self.storage_options))

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        """The file's bytes, or with ``limit`` at most ``limit + 1`` of them (so a caller sees
        that a file is larger without loading all of it); on object storage a transient fault
        is retried (retry.py)."""
        end = None if limit is None else limit + 1

        def read() -> bytes:
            return self.fs.cat_file(path, start=0 if end else None, end=end)

        if self.protocol == "file":
            return read()
        return with_retries(read, f"Reading {self.uri(path)}")

    def uri(self, path: str) -> str:
        """``path`` as users see it: with its protocol unless it is local."""
        return (
            path
            if self.protocol == "file"
            else f"{self.protocol}://{self.fs._strip_protocol(path)}"
        )


def storage_location(
    url: str, credentials: dict[str, Any] | None = None, fs_args: dict[str, Any] | None = None
) -> tuple[Storage, str]:
    """(storage of ``url``, path on it) for a dataset, as kedro-datasets builds its filesystems:
    credentials and ``fs_args`` become fsspec options; local paths are made absolute (Spark's
    Python workers run in other folders)."""
    protocol, path = split_protocol(url)
    protocol = protocol or "file"
    options = {
        k: v
        for k, v in {**deepcopy(fs_args or {}), **deepcopy(credentials or {})}.items()
        if v is not None
    }
    if protocol == "file":
        path = str(Path(path).resolve())
        options.setdefault("auto_mkdir", True)
    else:
        path = fsspec.get_filesystem_class(protocol)._strip_protocol(url)
    return Storage(protocol=protocol, storage_options=options), path.rstrip("/")


BLOB_PROTOCOLS = ("abfs", "abfss", "az", "wasbs", "wasb")  # Azure Blob Storage URLs


def connection_string_fields(connection_string: str) -> dict[str, str]:
    """``Key=Value;...`` of an Azure Storage connection string as a dict."""
    pairs = (part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    return {key.strip(): value.strip() for key, value in pairs}


def blob_account(options: dict[str, Any]) -> dict[str, str | None]:
    """Account name, key, SAS token and blob endpoint from a storage's fsspec options (given
    apart, or in its connection string)."""
    fields = connection_string_fields(options.get("connection_string") or "")
    return {
        "name": options.get("account_name") or fields.get("AccountName"),
        "key": options.get("account_key") or fields.get("AccountKey"),
        "sas_token": options.get("sas_token") or fields.get("SharedAccessSignature"),
        "endpoint": fields.get("BlobEndpoint"),
    }


def container_url(scheme: str, container: str, account: str = "") -> str:
    """The URL of a blob container: ``abfs://<container>`` (adlfs takes the account from the
    credentials) or HDInsight's ``wasbs://<container>@<account>.blob.core.windows.net``."""
    if scheme == "abfs":
        return f"abfs://{container}"
    if scheme == "wasbs":
        if not account:
            raise ValueError(
                "A wasbs:// URL names its storage account: set storage.account in the "
                "environment's globals.yml or run with --params storage_account=<name>."
            )
        return f"wasbs://{container}@{account}.blob.core.windows.net"
    raise ValueError(
        f"Blob storage is reached over abfs or wasbs, not {scheme!r} (globals.yml storage.scheme)."
    )
