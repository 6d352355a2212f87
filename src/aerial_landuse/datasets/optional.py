"""``OptionalDataset``: any dataset that may be absent; loading an absent one gives ``None``.

For inputs a run can do without, such as the score region's ``tile_summaries.csv`` of a user with
labelled tiles only: the node that reads it says what was skipped, instead of the catalog failing
with a missing-file traceback. kedro-datasets has no such wrapper.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from kedro.io import AbstractDataset
from kedro.io.core import parse_dataset_definition


class OptionalDataset(AbstractDataset[Any, Any]):
    """Wraps ``dataset`` (a catalog definition); ``load`` returns None when it does not exist."""

    def __init__(
        self,
        dataset: dict[str, Any],
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        config = deepcopy(dataset)
        if credentials is not None:
            config["credentials"] = credentials
        kind, arguments = parse_dataset_definition(config)
        self._dataset = kind(**arguments)
        self.metadata = metadata

    def load(self) -> Any:
        return self._dataset.load() if self._dataset.exists() else None

    def save(self, data: Any) -> None:
        self._dataset.save(data)

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset._describe(), "optional": True}
