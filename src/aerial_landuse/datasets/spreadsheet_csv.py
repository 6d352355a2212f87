"""``SpreadsheetCSVDataset``: kedro-datasets' CSVDataset for tables people open in a spreadsheet.

File, class and model names are user data: a cell that starts with ``=``, ``+``, ``-``, ``@``
(or a tab or carriage return) is a formula to Excel, LibreOffice and Google Sheets (CSV/formula
injection). Such text cells and column names are written with a leading ``'`` (OWASP's advice),
which spreadsheets show as text; loading removes it again, so nodes read back what was saved.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro_datasets.pandas import CSVDataset

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _escaped(value: Any) -> Any:
    return (
        f"{QUOTE}{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
    )


def _unescaped(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(QUOTE) and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list[Any]:
    return [
        c
        for c in frame.columns
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
    ]


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell, column name and index label that a spreadsheet would
    run as a formula quoted."""
    safe = frame.copy()
    for column in _text_columns(safe):
        safe[column] = safe[column].map(_escaped)
    safe.columns = [_escaped(c) for c in safe.columns]
    safe.index = safe.index.map(_escaped)
    return safe


def as_saved(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of ``spreadsheet_safe`` for a table read back."""
    frame.columns = [_unescaped(c) for c in frame.columns]
    for column in _text_columns(frame):
        frame[column] = frame[column].map(_unescaped)
    return frame


class SpreadsheetCSVDataset(CSVDataset):
    """A CSV whose text cannot run as a spreadsheet formula (see the module docstring)."""

    def save(self, data: pd.DataFrame) -> None:
        super().save(spreadsheet_safe(data))

    def load(self) -> pd.DataFrame:
        return as_saved(super().load())
