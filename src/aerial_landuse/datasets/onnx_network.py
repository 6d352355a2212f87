"""``ONNXNetworkDataset``: a pretrained network exported to ONNX, with its preprocessing spec."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from kedro.io import AbstractDataset

from aerial_landuse.networks import ONNXNetwork, read_onnx_network
from aerial_landuse.storage import storage_location

from .missing import MissingInputError


class ONNXNetworkDataset(AbstractDataset[ONNXNetwork, ONNXNetwork]):
    """Reads and writes ``<name>.onnx``; the preprocessing spec rides in the file's metadata."""

    def __init__(
        self,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        reader, self._path = storage_location(filepath, credentials, fs_args)
        self._protocol = reader.protocol
        self._fs = reader.fs
        self.metadata = metadata

    def load(self) -> ONNXNetwork:
        if not self._fs.exists(self._path):
            name = PurePosixPath(self._path).stem
            raise MissingInputError(
                f"Pretrained network {self._path} does not exist. Export it once with "
                f"`kedro run --pipelines=pretrained --params pretrained_model={name}`."
            )
        return read_onnx_network(self._fs.cat_file(self._path))

    def save(self, data: ONNXNetwork) -> None:
        with self._fs.open(self._path, "wb") as handle:
            handle.write(data.onnx_bytes)

    def _exists(self) -> bool:
        return self._fs.exists(self._path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._path, "protocol": self._protocol}
