"""fsspec support for ``wasbs://container@account.blob.core.windows.net/path`` URLs.

HDInsight's Spark reads and writes ``wasbs://`` natively (Hadoop's WASB driver). kedro-datasets
and our executors reach the same blobs through fsspec, which has no ``wasbs`` protocol: this
maps it onto adlfs (``abfs``), so one URL serves Spark and Python alike.
"""

from __future__ import annotations

import re

from adlfs import AzureBlobFileSystem

_URL = re.compile(r"^wasbs?://")


class WasbsFileSystem(AzureBlobFileSystem):
    protocol = ("wasbs", "wasb")

    @classmethod
    def _strip_protocol(cls, path: str | list[str]) -> str | list[str]:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]  # type: ignore[misc]
        bare = _URL.sub("", path)
        container, _, rest = bare.partition("/")
        return f"{container.split('@', 1)[0]}/{rest}".rstrip("/")
