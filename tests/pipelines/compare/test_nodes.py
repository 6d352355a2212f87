"""The leaderboard: best first, optionally one data set's runs only."""

import pandas as pd

from aerial_landuse.pipelines.compare.nodes import leaderboard
from tests.conftest import parameters


def runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "start_time": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]),
            "params.data.name": ["demo", "rsscn7", "rsscn7"],
            "params.train.model_name": ["m1", "m2", "m3"],
            "metrics.accuracy": [0.95, 0.80, 0.85],
        }
    )


def test_runs_are_ranked_by_the_metric_with_their_data_set():
    table = leaderboard(runs(), parameters("compare", dataset=None))
    assert list(table["run_id"]) == ["a", "c", "b"] and "dataset" in table.columns


def test_the_leaderboard_can_hold_one_data_set():
    table = leaderboard(runs(), parameters("compare", dataset="rsscn7"))
    assert list(table["run_id"]) == ["c", "b"] and list(table["rank"]) == [1, 2]
