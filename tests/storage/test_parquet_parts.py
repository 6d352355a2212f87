"""A task's part file: its small batches gathered into few row groups, features stored without
a dictionary (distinct floats), the other columns with one."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from aerial_landuse.storage import parquet_parts
from aerial_landuse.storage.location import storage_location
from aerial_landuse.storage.parquet_parts import dictionary_columns, write_part


def _batches(count: int, rows: int) -> list[pa.RecordBatch]:
    """``count`` batches of ``rows`` tiles as featurize yields them: id, label, 1,280 floats."""
    rng = np.random.default_rng(0)
    batches = []
    for b in range(count):
        ids = [f"t{b * rows + i:05d}" for i in range(rows)]
        values = pa.array(rng.random(rows * 1280, dtype=np.float32))
        offsets = pa.array(np.arange(0, rows * 1280 + 1, 1280, dtype=np.int32))
        features = pa.ListArray.from_arrays(offsets, values)
        batches.append(
            pa.RecordBatch.from_pydict(
                {"id": ids, "label": ["Forest", "Water"] * (rows // 2), "features": features}
            )
        )
    return batches


def _written(tmp_path, batches: list[pa.RecordBatch]) -> pq.ParquetFile:
    storage, folder = storage_location(str(tmp_path / "parts"))
    storage.fs.makedirs(folder, exist_ok=True)
    (row,) = list(write_part(iter(batches), storage, folder, "run1"))
    assert row.column("rows").to_pylist() == [sum(b.num_rows for b in batches)]
    return pq.ParquetFile(row.column("path")[0].as_py())


def _encodings(part: pq.ParquetFile, column: str) -> set[str]:
    group = part.metadata.row_group(0)
    names = [group.column(i).path_in_schema for i in range(group.num_columns)]
    return set(group.column(names.index(column)).encodings)


def test_a_tasks_small_batches_make_one_row_group_with_every_row_in_order(tmp_path):
    batches = _batches(40, 8)
    part = _written(tmp_path, batches)
    assert part.metadata.num_row_groups == 1  # not one per 8-tile batch
    assert part.read().equals(pa.Table.from_batches(batches))


def test_row_groups_are_cut_at_their_size_and_keep_the_rows(tmp_path, monkeypatch):
    batches = _batches(40, 8)
    monkeypatch.setattr(parquet_parts, "ROW_GROUP_BYTES", 10 * batches[0].nbytes)
    part = _written(tmp_path, batches)
    assert part.metadata.num_row_groups == 4
    assert part.read().equals(pa.Table.from_batches(batches))


def test_features_are_stored_without_a_dictionary_and_labels_with_one(tmp_path):
    part = _written(tmp_path, _batches(4, 8))
    assert not {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & _encodings(part, "features.list.element")
    assert "RLE_DICTIONARY" in _encodings(part, "label")


def test_only_floating_point_columns_go_without_a_dictionary():
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("width", pa.int32()),
            ("lat", pa.float64()),
            ("features", pa.list_(pa.float32())),
            ("probabilities", pa.large_list(pa.float64())),
            ("tags", pa.list_(pa.string())),
        ]
    )
    assert dictionary_columns(schema) == ["id", "width", "tags"]
