"""``ONNXNetworkDataset``: a pretrained network exported to ONNX, with its preprocessing spec."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

import mlflow
from kedro.io import AbstractDataset

from aerial_landuse.core.library_output import prints_logged
from aerial_landuse.core.networks.onnx_graphs import ONNXNetwork, read_onnx_network
from aerial_landuse.core.networks.registry import is_finetuned
from aerial_landuse.storage import storage_location
from aerial_landuse.storage.atomic import write_file

from .missing import MissingInputError

logger = logging.getLogger(__name__)


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
            if is_finetuned(name):
                raise MissingInputError(
                    f"Fine-tuned network {self._path} does not exist. Fine-tune it on this data "
                    f"set first: `kedro run --pipelines=ingest,finetune --params "
                    f"pretrained_model={name}` (the same --params dataset=... as this run)."
                )
            raise MissingInputError(
                f"Pretrained network {self._path} does not exist. Export it once with "
                f"`kedro run --pipelines=pretrained --params pretrained_model={name}`."
            )
        return read_onnx_network(self._fs.cat_file(self._path))

    def save(self, data: ONNXNetwork) -> None:
        """Write the file whole (storage/atomic.py: under its lock, a unique temporary name, then a
        rename or a blob commit); a network
        with a lineage (fine-tuned) is also logged and registered in MLflow when a run is open."""
        write_file(self._fs, self._path, lambda handle: handle.write(data.onnx_bytes))
        if data.lineage and mlflow.active_run() is not None:
            register_network(data)

    def _exists(self) -> bool:
        return self._fs.exists(self._path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._path, "protocol": self._protocol}


def register_network(network: ONNXNetwork) -> Any:
    """Log the network to the open MLflow run as an ONNX model and register it as a new version
    of ``<network>-<data set>``, its lineage as the version's tags."""
    import onnx
    from mlflow import MlflowClient

    lineage = network.lineage
    name = f"{network.spec.name}-{lineage.get('dataset', 'unknown')}"
    with prints_logged(logger, stdout=False, stderr=True):
        info = mlflow.onnx.log_model(
            onnx.load_model_from_string(network.onnx_bytes),
            name="network",
            registered_model_name=name,
        )
    client, version = MlflowClient(), str(info.registered_model_version)
    for key, value in lineage.items():
        client.set_model_version_tag(name, version, key, str(value)[:5000])
    client.update_model_version(name, version, description=network.spec.weights)
    return info
