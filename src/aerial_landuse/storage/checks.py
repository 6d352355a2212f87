"""Blob storage checks: clear errors before a run instead of stack traces from deep in adlfs.

Before a pipeline touches ``abfs://`` datasets, every container the catalog names is checked
once: can the endpoint be reached, are the credentials accepted, does the container exist.
"""

from __future__ import annotations

import difflib
import logging
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import fsspec

from aerial_landuse.core.errors import UserInputError

from .location import BLOB_PROTOCOLS, blob_account

logger = logging.getLogger(__name__)

PATH_KEYS = ("filepath", "path")


class StorageError(UserInputError):
    """A storage problem users can fix; the message names the setting and the fix."""


@dataclass(frozen=True)
class BlobAccount:
    """One storage account as the catalog reaches it (a credentials entry)."""

    credentials_name: str | None
    options: dict[str, Any] = field(repr=False, hash=False, compare=False)

    @property
    def endpoint(self) -> tuple[str, int, str]:
        """(host, port, display URL) of the blob endpoint, without any secret."""
        endpoint = blob_account(self.options)["endpoint"]
        if endpoint:
            url = urlparse(endpoint)
            return (
                url.hostname or "",
                url.port or (443 if url.scheme == "https" else 80),
                endpoint,
            )
        host = self.options.get("account_host") or f"{self.name}.blob.core.windows.net"
        return host, 443, f"https://{host}"

    @property
    def name(self) -> str:
        return blob_account(self.options)["name"] or "?"


def blob_containers(
    catalog_config: Mapping[str, Any], credentials: Mapping[str, Any]
) -> dict[BlobAccount, dict[str, list[str]]]:
    """Containers named by ``abfs://`` paths in the catalog: account -> container -> datasets."""
    found: dict[BlobAccount, dict[str, list[str]]] = {}
    accounts: dict[str | None, BlobAccount] = {}
    for dataset, entry in catalog_config.items():
        if not isinstance(entry, Mapping) or dataset.startswith("_"):
            continue
        for key in PATH_KEYS:
            value = str(entry.get(key, ""))
            protocol, _, rest = value.partition("://")
            if protocol not in BLOB_PROTOCOLS or not rest:
                continue
            cred_name = (
                entry.get("credentials") if isinstance(entry.get("credentials"), str) else None
            )
            if cred_name not in accounts:
                options = {
                    k: v
                    for k, v in dict(credentials.get(cred_name, {}) if cred_name else {}).items()
                    if v is not None
                }
                accounts[cred_name] = BlobAccount(cred_name, options)
            container = rest.split("/", 1)[0].split("@", 1)[0]
            if "{" in container:
                continue
            found.setdefault(accounts[cred_name], {}).setdefault(container, []).append(dataset)
    return found


def check_endpoint(account: BlobAccount, timeout: float = 3.0) -> None:
    """Fail fast (no retries) when nothing listens at the blob endpoint."""
    host, port, url = account.endpoint
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        local = host in ("127.0.0.1", "localhost", "::1")
        hint = (
            "Is Azurite running? Start it with `make azurite` (and `source .azurite/connection.env`)."
            if local
            else "Check the account name (AZURE_STORAGE_ACCOUNT_NAME or credentials) and your network."
        )
        raise StorageError(
            f"Cannot reach blob storage at {url} ({exc.strerror or exc}). {hint}"
        ) from None


def list_containers(account: BlobAccount) -> list[str]:
    """Container names, translating authentication failures into a clear message."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    fs = fsspec.filesystem("abfs", skip_instance_cache=True, **account.options)
    try:
        return sorted(p.rstrip("/") for p in fs.ls("", detail=False))
    except (ClientAuthenticationError, HttpResponseError) as exc:
        status = getattr(exc, "status_code", None)
        if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
            source = (
                f"credentials entry '{account.credentials_name}'"
                if account.credentials_name
                else "the catalog"
            )
            raise StorageError(
                f"Storage account '{account.name}' at {account.endpoint[2]} rejected the credentials from {source} "
                f"(HTTP {status}). Check the account key, SAS token or connection string in "
                "conf/local/credentials.yml or the AZURE_STORAGE_* environment variables."
            ) from None
        raise StorageError(
            f"Storage account '{account.name}' answered HTTP {status}: {exc.reason}"
        ) from None


def check_containers(
    accounts: Mapping[BlobAccount, Mapping[str, Iterable[str]]], env: str | None
) -> None:
    """Every container the catalog names exists; otherwise say which, where, and the fix."""
    for account, containers in accounts.items():
        check_endpoint(account)
        existing = list_containers(account)
        missing = {c: list(ds) for c, ds in containers.items() if c not in existing}
        if not missing:
            continue
        lines = []
        for container, datasets in sorted(missing.items()):
            close = difflib.get_close_matches(container, existing, n=1)
            guess = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"  - '{container}'{guess}, used by {', '.join(sorted(datasets)[:4])}")
        raise StorageError(
            f"Storage account '{account.name}' has no container(s):\n" + "\n".join(lines) + "\n"
            f"Existing containers: {', '.join(existing) or 'none'}. Fix the name in conf/{env or '<env>'}/catalog.yml, "
            f"or create the containers and upload the tiles with `python -m aerial_landuse.tools.upload --env {env or '<env>'}`."
        )


WRITE_PROBE = "_aerial_landuse_write_check"


def written_containers(
    containers: Mapping[str, Iterable[str]], outputs: Iterable[str]
) -> list[str]:
    """The containers holding a dataset the run writes (catalog names or factory patterns)."""
    import parse

    names = {output.split("@", 1)[0] for output in outputs} | set(outputs)
    written = []
    for container, datasets in containers.items():
        for dataset in datasets:
            pattern = dataset.strip('"')
            if pattern in names or (
                "{" in pattern and any(parse.parse(pattern, name) for name in names)
            ):
                written.append(container)
                break
    return sorted(written)


def check_writable(account: BlobAccount, containers: Iterable[str]) -> None:
    """Prove that the credentials may write (and delete) in each container the run writes to, by
    writing and deleting a small probe blob: a read-only SAS fails here, not mid-run."""
    from azure.core.exceptions import HttpResponseError

    fs = fsspec.filesystem("abfs", skip_instance_cache=True, **account.options)
    for container in sorted(set(containers)):
        probe = f"{container}/{WRITE_PROBE}-{uuid.uuid4().hex[:12]}"  # concurrent runs each own one
        try:
            fs.pipe_file(probe, b"ok")
            fs.rm(probe)
        except (HttpResponseError, PermissionError) as exc:
            status = getattr(exc, "status_code", None) or getattr(exc, "errno", None)
            raise StorageError(
                f"The credentials for storage account '{account.name}' at {account.endpoint[2]} "
                f"cannot write to container '{container}' (HTTP {status}), where this run writes "
                "its outputs. Use a key, or a SAS token with read, write, create, delete and "
                "list permissions (sp=rwdlc), in conf/local/credentials.yml or AZURE_STORAGE_*."
            ) from None


def create_containers(accounts: Mapping[BlobAccount, Mapping[str, Iterable[str]]]) -> list[str]:
    """Create the containers the catalog names that do not exist yet; returns those created."""
    created = []
    for account, containers in accounts.items():
        check_endpoint(account)
        existing = set(list_containers(account))
        fs = fsspec.filesystem("abfs", skip_instance_cache=True, **account.options)
        for container in sorted(set(containers) - existing):
            fs.mkdir(container)
            created.append(container)
    return created
