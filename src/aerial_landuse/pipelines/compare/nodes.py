"""Compare nodes: the run history as a leaderboard, sorted by a chosen metric."""

from __future__ import annotations

from typing import Any

import pandas as pd

from aerial_landuse.core.contracts import DATASET_PARAM
from aerial_landuse.core.contracts import TRACKED_PARAMS as COLUMNS
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.reporting.figure import Figure


def leaderboard(runs: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """One row per run: model, network, classifier, sample_frac, metrics; best first."""
    metric = f"metrics.{params['metric']}"
    if metric not in runs.columns:
        raise UserInputError(
            f"compare.metric {params['metric']!r} is not a logged metric; runs have {sorted(c[8:] for c in runs.columns if c.startswith('metrics.'))}."
        )
    runs = runs[runs[metric].notna()]  # trained but never evaluated: nothing to rank
    column = f"params.{DATASET_PARAM}"
    if params["dataset"] and column in runs.columns:
        runs = runs[runs[column] == params["dataset"]]
    metrics = [
        c
        for c in ("metrics.accuracy", "metrics.macro_f1", "metrics.weighted_f1")
        if c in runs.columns
    ]
    table = runs[
        ["run_id", "start_time", *[c for c in COLUMNS if c in runs.columns], *metrics]
    ].rename(columns=COLUMNS)
    table = table.rename(columns={c: c.removeprefix("metrics.") for c in metrics})
    table = table.sort_values(
        [params["metric"], "start_time"], ascending=[False, False]
    ).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def leaderboard_html(table: pd.DataFrame, params: dict[str, Any]) -> str:
    """The leaderboard as a small self-contained HTML page."""
    body = table.to_html(
        index=False, float_format=lambda v: f"{v:.4f}", border=0, classes="leaderboard"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Model leaderboard</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}"
        "th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}th{background:#f4f4f4}"
        f"</style></head><body><h1>Model leaderboard</h1><p>Sorted by <b>{params['metric']}</b>; best first.</p>"
        f"{body}</body></html>"
    )


def leaderboard_figure(table: pd.DataFrame, params: dict[str, Any]) -> Figure:
    """The chosen metric per run, best at the top."""
    shown = table.head(int(params["max_runs_in_figure"])).iloc[::-1]
    fig = Figure(figsize=(8, 0.45 * len(shown) + 1.2), layout="constrained")  # no pyplot backend
    ax = fig.subplots()
    labels = [f"{r.model_name} ({str(r.run_id)[:7]})" for r in shown.itertuples()]
    ax.barh(labels, shown[params["metric"]], color="#4c78a8")
    ax.set_xlabel(params["metric"])
    ax.set_xlim(0, 1)
    ax.set_title(f"Runs by {params['metric']}")
    for y, value in enumerate(shown[params["metric"]]):
        ax.text(value, y, f" {value:.3f}", va="center")
    return fig
