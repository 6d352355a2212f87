"""Tables people open in a spreadsheet: no cell runs as a formula, and nodes read back what was saved."""

import pandas as pd

from aerial_landuse.datasets import SpreadsheetCSVDataset

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "Forest", ""]


def test_formula_cells_are_quoted_on_disk_and_restored_on_load(tmp_path):
    frame = pd.DataFrame(
        {"filename": HOSTILE, "confidence": [0.5, -0.25, 1, 2, 3, 4, 5], "=cls": list("abcdefg")}
    )
    dataset = SpreadsheetCSVDataset(
        filepath=str(tmp_path / "review.csv"), save_args={"index": False}
    )
    dataset.save(frame)
    on_disk = pd.read_csv(tmp_path / "review.csv", keep_default_na=False)
    cells = [str(v) for v in on_disk.to_numpy().ravel()] + list(on_disk.columns)
    assert not [c for c in cells if c and (c[0] in "=+@\t" or (c[0] == "-" and c[1:2].isalpha()))]
    assert on_disk["filename"].tolist()[:4] == [f"'{v}" for v in HOSTILE[:4]]
    assert on_disk["confidence"].tolist() == [0.5, -0.25, 1, 2, 3, 4, 5]  # numbers stay numbers
    loaded = dataset.load()
    assert list(loaded.columns) == ["filename", "confidence", "=cls"]
    assert loaded["filename"].fillna("").tolist() == HOSTILE
