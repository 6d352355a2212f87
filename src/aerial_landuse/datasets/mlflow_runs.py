"""MLflow-backed datasets: run parameters, the run history, and choosing a trained model by it.

kedro-mlflow logs node parameters, metrics and artifacts; these add what it has no dataset for:
free-form run parameters (data location, tile counts), the run table for the leaderboard, and
loading a trained model by name or as ``best`` (the top run by a metric).
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_mlflow.io.metrics import MlflowMetricsHistoryDataset

from aerial_landuse.core.classifiers.trained import TrainedModel
from aerial_landuse.core.contracts import DATASET_PARAM, MODEL_PARAM, SAFE_NAME_RULE, is_safe_name
from aerial_landuse.core.errors import UserInputError

from .missing import MissingInputError
from .spark_model import SparkModelDataset, missing_model_message


class MlflowParamsDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Saving logs a flat dict as parameters of the active MLflow run (no run: nothing logged).
    Ephemeral: ``--only-missing-outputs`` does not rerun a node just to log again."""

    _EPHEMERAL = True

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata
        self._last: dict[str, Any] = {}

    def save(self, data: dict[str, Any]) -> None:
        self._last = dict(data)
        if mlflow.active_run() is not None:
            mlflow.log_params({k: str(v)[:6000] for k, v in data.items()})

    def load(self) -> dict[str, Any]:
        return dict(self._last)

    def _describe(self) -> dict[str, Any]:
        return {"target": "active MLflow run"}


class TrackedMetricsDataset(MlflowMetricsHistoryDataset):
    """kedro-mlflow's metrics dataset, ephemeral like MlflowParamsDataset: with
    ``--only-missing-outputs`` the metrics are logged when the model is evaluated again, not by a
    rerun that changes nothing (which would add a duplicate run to the leaderboard)."""

    _EPHEMERAL = True


def finished_runs(experiment: str) -> pd.DataFrame:
    """Every finished run of ``experiment`` that trained a model, newest first."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return pd.DataFrame()
    runs = mlflow.search_runs(
        [found.experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    column = f"params.{MODEL_PARAM}"
    if runs.empty or column not in runs.columns:
        return pd.DataFrame()
    return runs[runs[column].notna()].reset_index(drop=True)


class MlflowRunsDataset(AbstractDataset[None, pd.DataFrame]):
    """The run history of the experiment as a table (params.*, metrics.*, tags.*)."""

    def __init__(self, experiment: str, metadata: dict[str, Any] | None = None) -> None:
        self._experiment = experiment
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        runs = finished_runs(self._experiment)
        if runs.empty:
            raise MissingInputError(
                f"No finished training run in MLflow experiment '{self._experiment}' at {mlflow.get_tracking_uri()}: "
                "train and evaluate a model first (`kedro run`, or `make sweep`)."
            )
        return runs

    def save(self, data: None) -> None:
        raise DatasetError("The MLflow run history is read-only here.")

    def _describe(self) -> dict[str, Any]:
        return {"experiment": self._experiment}


def choose_model(
    name: str, experiment: str, metric: str = "accuracy", dataset: str | None = None
) -> tuple[str, str | None, float | None]:
    """(model name, run id, metric value): ``name`` itself, or for ``best`` the model of the top
    finished run of ``experiment`` on ``dataset`` by ``metric``."""
    runs = finished_runs(experiment)
    column = f"params.{DATASET_PARAM}"
    if dataset is not None and column in runs.columns:
        runs = runs[runs[column].isna() | (runs[column] == dataset)]
    runs = runs[runs[f"params.{MODEL_PARAM}"] != "best"] if not runs.empty else runs
    column = f"metrics.{metric}"
    if name != "best":
        mine = runs[runs[f"params.{MODEL_PARAM}"] == name] if not runs.empty else runs
        if mine.empty:
            return name, None, None
        value = _value(mine[column].iloc[0]) if column in mine else None
        return name, str(mine["run_id"].iloc[0]), value
    if runs.empty or column not in runs.columns or runs[column].isna().all():
        raise MissingInputError(
            f"model_name=best needs finished runs with metric '{metric}' in MLflow experiment "
            f"'{experiment}' ({mlflow.get_tracking_uri()}): train and evaluate models first."
        )
    top = runs.sort_values([column, "start_time"], ascending=[False, False]).iloc[0]
    chosen, run_id = top[f"params.{MODEL_PARAM}"], str(top["run_id"])
    if not is_safe_name(chosen):
        raise UserInputError(
            f"The top MLflow run {run_id} of experiment '{experiment}' records {MODEL_PARAM}="
            f"{chosen!r}, which is not {SAFE_NAME_RULE}. Delete that run (`mlflow runs delete "
            f"--run-id {run_id}`) or score a model by name (--params model_name=<name>)."
        )
    return str(chosen), run_id, _value(top[column])


class ModelChoiceDataset(AbstractDataset[None, TrainedModel]):
    """A trained model by name, or ``best``: the model of the top finished run by ``metric``.

    ``chosen`` is the model a ``best`` request was resolved to before the catalog was made (the
    ChosenModel hook), so that paths and the loaded model agree; without it, ``best`` is
    resolved here. The loaded model's ``info`` records the MLflow run that trained it
    (``mlflow_run_id``) and how it was chosen.
    """

    def __init__(
        self,
        path: str,
        model_name: str,
        experiment: str,
        metric: str = "accuracy",
        dataset: str | None = None,
        chosen: str | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._root = path.rstrip("/")  # ``path``: Kedro anchors it to the project root
        self._name = model_name
        self._chosen = chosen
        self._metric = metric
        self._experiment = experiment
        self._dataset = dataset
        self._credentials = credentials
        self.metadata = metadata

    def chosen(self) -> tuple[str, str | None, float | None]:
        """(model name, run id, metric value) of the model this dataset loads."""
        name = self._chosen or self._name
        if not (name == "best" or is_safe_name(name)):
            raise UserInputError(f"model_name {name!r} is not {SAFE_NAME_RULE}.")
        return choose_model(name, self._experiment, self._metric, self._dataset)

    def load(self) -> TrainedModel:
        name, run_id, value = self.chosen()
        stored = SparkModelDataset(path=f"{self._root}/{name}", credentials=self._credentials)
        if not stored.exists():
            raise MissingInputError(
                missing_model_message(stored._describe()["path"], self._dataset)
            )
        model = stored.load()
        if self._name != "best":  # the run the stored version records (it trained it) comes first
            run_id = model.info.get("mlflow_run_id") or run_id
        model.info.update(
            {
                "mlflow_run_id": run_id,
                "chosen_as": self._name,
                "chosen_by": self._metric,
                "chosen_metric_value": value,
            }
        )
        return model

    def save(self, data: TrainedModel) -> None:
        raise DatasetError(
            "Models are saved by the train pipeline (trained_model); this dataset only chooses one."
        )

    def _describe(self) -> dict[str, Any]:
        return {"path": self._root, "model_name": self._name, "metric": self._metric}


def _value(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
