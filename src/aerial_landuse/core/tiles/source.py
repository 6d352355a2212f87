"""What executor code needs of a storage location to read tiles: the core states it, the storage
layer's ``Storage`` provides it (so the core never imports storage)."""

from __future__ import annotations

from typing import Any, Protocol


class TileSource(Protocol):
    """A place tiles are read from by URL: its fsspec filesystem and a whole-file read."""

    @property
    def fs(self) -> Any:
        """The fsspec filesystem that opens the location's URLs."""
        ...

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        """The bytes of the file at ``path`` (a storage URL); with ``limit``, at most
        ``limit + 1`` of them."""
        ...
