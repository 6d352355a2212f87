"""Fine-tuning's learning curves and summary: beside the network, in MLflow and in the report."""

from __future__ import annotations

from typing import Any

import pandas as pd

from aerial_landuse.reporting.figure import Figure


def plot_learning_curves(history: dict[str, Any]) -> Figure:
    """Loss and accuracy per epoch, train vs validation, the kept epoch marked."""
    rows = pd.DataFrame(history["epochs"]).set_index("epoch")
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    axes = figure.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for role, style in (("train", "-o"), ("validation", "-s")):
            ax.plot(rows.index, rows[f"{role}_{metric}"], style, label=role, markersize=4)
        ax.axvline(
            history["best_epoch"], color="grey", linestyle=":", label="kept (best validation)"
        )
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[1].legend(loc="lower right")
    figure.suptitle("Fine-tuning: the weights of the best validation epoch are kept")
    return figure


def finetune_summary(history: dict[str, Any]) -> dict[str, Any]:
    """Epochs run, the kept (best validation) epoch and its train and validation accuracy."""
    best = next(r for r in history["epochs"] if r["epoch"] == history["best_epoch"])
    return {
        "epochs_run": len(history["epochs"]),
        "best_epoch": history["best_epoch"],
        "validation_accuracy": best["validation_accuracy"],
        "train_accuracy": best["train_accuracy"],
    }
