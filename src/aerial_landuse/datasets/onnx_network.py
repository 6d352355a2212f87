"""``ONNXNetworkDataset``: a pretrained network exported to ONNX, with its preprocessing spec."""

from __future__ import annotations

from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_filepath_str, get_protocol_and_path

from aerial_landuse.networks import ONNXNetwork, read_onnx_network


class ONNXNetworkDataset(AbstractDataset[ONNXNetwork, ONNXNetwork]):
    """Reads and writes ``<name>.onnx``; the preprocessing spec rides in the file's metadata."""

    def __init__(
        self,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath)
        options = {**deepcopy(fs_args or {}), **deepcopy(credentials or {})}
        if protocol == "file":
            options.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol, **options)
        self.metadata = metadata

    @property
    def _path(self) -> str:
        return get_filepath_str(self._filepath, self._protocol)

    def load(self) -> ONNXNetwork:
        if not self._fs.exists(self._path):
            name = self._filepath.stem
            raise DatasetError(
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
