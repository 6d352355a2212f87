"""Two years of a small predicted region with known changes and classifier noise."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import parameters

CLASSES = ["Cultivated", "Developed", "Forest"]
DLAT, DLON = 0.002, 0.0027  # about 222 m x 222 m at 42.5 N
PARAMS = parameters("change") | {
    "before": "r2010",
    "after": "r2016",
    "labels": "raw",
    "min_confidence": 0.6,
    "threshold_sweep": [0.0, 0.6, 0.9],
    "match_on": "bounds",
    "max_offset_m": 30,
    "review_tiles": 5,
}


def _region(truth: np.ndarray, year: int, shaky: set = frozenset(), shift_m: float = 0.0):
    """Predictions of a grid whose labels are the truth; ``shaky`` cells get the wrong class
    with low confidence (classifier noise)."""
    rows = []
    for (r, c), label in np.ndenumerate(truth):
        north = 42.5 - r * DLAT + shift_m / 111_320
        west = -71.4 + c * DLON
        predicted, confidence = (
            (CLASSES[(CLASSES.index(label) + 1) % 3], 0.45)
            if (
                r,
                c,
            )
            in shaky
            else (label, 0.9)
        )
        probs = {
            f"prob_{k}": (confidence if k == predicted else (1 - confidence) / 2) for k in CLASSES
        }
        rows.append(
            {
                "id": f"t{year}_{r}_{c}.png",
                "filename": f"t{year}_{r}_{c}.png",
                "filepath": f"data/01_raw/r{year}/t{year}_{r}_{c}.png",
                "llcrnrlat": north - DLAT,
                "llcrnrlon": west,
                "urcrnrlat": north,
                "urcrnrlon": west + DLON,
                "pred_label": predicted,
                "confidence": confidence,
                **probs,
            }
        )
    frame = pd.DataFrame(rows)
    summaries = frame[["filename"]].assign(true_label=truth.ravel())
    return frame, summaries


@pytest.fixture
def years():
    before = np.full((6, 6), "Forest", dtype=object)
    before[:, 4:] = "Cultivated"
    after = before.copy()
    after[0:2, 0:3] = "Developed"  # 6 tiles of forest became developed
    after[5, 5] = "Developed"  # 1 field
    b, bs = _region(before, 2010, shaky={(4, 1)})  # noise in one year only
    a, as_ = _region(after, 2016, shaky={(3, 3), (5, 5)}, shift_m=8)  # grid 8 m off
    return b, bs, a, as_
