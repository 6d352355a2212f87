import logging
import os
import sys

import click
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro_datasets.spark import SparkDataset

from aerial_landuse.framework.hooks import (
    BatchedParamsMlflowHook,
    ClusterConfigError,
    SparkSaveTimer,
    check_master,
    needs_spark,
    spark_conf,
)
from aerial_landuse.pipeline_registry import register_pipelines
from aerial_landuse.tools.processes import free_port
from tests.conftest import copy_project, kedro


def test_save_timer_logs_written_spark_frames_only(spark, tmp_path, caplog):
    catalog = DataCatalog(
        {
            "features": SparkDataset(filepath=str(tmp_path / "f.parquet"), file_format="parquet"),
            "handover": MemoryDataset(),
        }
    )
    frame = spark.range(3)
    timer = SparkSaveTimer()
    timer.after_catalog_created(catalog)
    with caplog.at_level(logging.INFO, logger="aerial_landuse.framework.hooks"):
        for name, data in (("features", frame), ("handover", frame), ("unregistered", frame)):
            timer.before_dataset_saved(name, data)
            timer.after_dataset_saved(name, data)
        timer.before_dataset_saved("features", "not a frame")
        timer.after_dataset_saved("features", "not a frame")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and messages[0].startswith("Wrote features in ")


def _configured_as_mlflow_yml(hook: BatchedParamsMlflowHook) -> BatchedParamsMlflowHook:
    """What kedro-mlflow's after_context_created sets from conf/base/mlflow.yml."""
    hook.flatten, hook.recursive, hook.sep = True, True, "."
    hook.long_params_strategy = "tag"
    return hook


def test_each_nodes_parameters_go_to_mlflow_in_one_call_and_once_per_run(tracking, monkeypatch):
    import mlflow
    from kedro.pipeline import node

    hook = _configured_as_mlflow_yml(BatchedParamsMlflowHook())
    calls = {"log_batch": 0, "log_param": 0}
    original = mlflow.MlflowClient.log_batch

    def counted(self, *args, **kwargs):
        calls["log_batch"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "log_batch", counted)
    monkeypatch.setattr(mlflow, "log_param", lambda *a: calls.__setitem__("log_param", 1))
    train = {"classifier": "lightgbm", "grid": {str(i): [i, i + 1] for i in range(150)}}
    inputs = {"params:train": train, "params:seed": 7, "features": object(), "long": None}
    step = node(lambda *a: None, list(inputs), None, name="n")
    with mlflow.start_run() as run:
        hook.before_node_run(step, None, inputs, False)
        first = calls["log_batch"]
        hook.before_node_run(step, None, inputs, False)  # a second node with the same ones
        hook.before_node_run(step, None, {"params:long": "x" * 7000}, False)
    logged = mlflow.get_run(run.info.run_id).data
    assert first == 2 and calls["log_batch"] == 2 and calls["log_param"] == 0  # 152 in 2 calls
    assert logged.params["train.classifier"] == "lightgbm" and logged.params["seed"] == "7"
    assert logged.params["train.grid.149"] == "[149, 150]" and len(logged.params) == 152
    assert logged.tags["long"] == "x" * 7000  # kedro-mlflow's rule for a value over 6000


def test_a_cluster_master_needs_the_executors_python_from_spark_yml():
    with pytest.raises(ClusterConfigError, match=r"spark\.pyspark\.python.*make executor-env"):
        spark_conf({"spark.master": "spark://10.0.0.1:7077"})
    conf = spark_conf({"spark.master": "yarn", "spark.pyspark.python": "./environment/bin/python"})
    assert conf.get("spark.pyspark.python") == "./environment/bin/python"
    assert conf.get("spark.pyspark.driver.python") == sys.executable


def test_spark_draws_progress_bars_on_a_terminal_only(monkeypatch):
    settings = {"spark.master": "local[1]", "spark.ui.showConsoleProgress": "true"}
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert spark_conf(settings).get("spark.ui.showConsoleProgress") == "true"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)  # make, CI, kedro run 2> run.log
    assert spark_conf(settings).get("spark.ui.showConsoleProgress") == "false"


def test_the_spark_ui_stays_on_a_loopback_driver_and_kills_nothing(monkeypatch):
    from tests.test_conf import BLOB_ENVS, loader

    cluster = {"spark.pyspark.python": "./environment/bin/python"}
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    spark_conf({**cluster, "spark.master": "yarn", "spark.driver.bindAddress": "10.0.0.4"})
    assert "SPARK_LOCAL_IP" not in os.environ  # YARN's proxy must reach the UI
    spark_conf(
        {**cluster, "spark.master": "spark://x:7077", "spark.driver.bindAddress": "127.0.0.1"}
    )
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"
    for env in ["local", *BLOB_ENVS]:
        assert loader(env)["spark"]["spark.ui.killEnabled"] is False, env


def test_unreachable_masters_are_named_with_the_fix(monkeypatch):
    closed = free_port()
    with pytest.raises(ClusterConfigError, match=rf"127\.0\.0\.1:{closed}.*make cluster-up"):
        check_master({"spark.master": f"spark://127.0.0.1:{closed}"})
    monkeypatch.delenv("HADOOP_CONF_DIR", raising=False)
    monkeypatch.delenv("YARN_CONF_DIR", raising=False)
    with pytest.raises(ClusterConfigError, match="HADOOP_CONF_DIR"):
        check_master({"spark.master": "yarn"})


@pytest.mark.parametrize(
    ("command", "pipelines", "spark"),
    [
        ("run", ["compare"], False),
        ("run", ["demo_data", "pretrained"], False),
        ("run", ["pretrained", "ingest"], True),
        ("run", [], True),  # __default__
        ("run", ["no_such_pipeline"], True),  # Kedro says it is not registered
        ("registry", [], False),
    ],
)
def test_spark_starts_for_runs_of_nodes_that_need_it(monkeypatch, command, pipelines, spark):
    monkeypatch.setattr("aerial_landuse.framework.hooks.pipelines", register_pipelines())
    with click.Context(click.Group("kedro"), info_name="kedro") as root:
        with click.Context(click.Command(command), parent=root, info_name=command) as context:
            context.params = {"pipelines": pipelines, "pipeline": None}
            assert needs_spark() is spark


def test_hdinsight_run_off_the_cluster_says_what_is_missing(tmp_path):
    project = copy_project(tmp_path / "project")
    environment = {
        k: v for k, v in os.environ.items() if k not in ("HADOOP_CONF_DIR", "YARN_CONF_DIR")
    }
    output = kedro(project, "run", "--env=hdinsight", env=environment, check=False)
    assert "HADOOP_CONF_DIR" in output and "YARN ResourceManager" in output
    assert "java.lang" not in output and "Py4JJavaError" not in output


def test_only_missing_outputs_also_reruns_what_is_downstream_of_a_rewritten_output(tmp_path):
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro.pipeline import Node, Pipeline
    from kedro_datasets.pandas import CSVDataset

    from aerial_landuse.framework.hooks import nodes_to_run

    def csv(name: str, exists: bool) -> CSVDataset:
        dataset = CSVDataset(filepath=str(tmp_path / f"{name}.csv"))
        if exists:
            dataset.save(pd.DataFrame({"x": [1]}))
        return dataset

    catalog = DataCatalog(
        {"a": csv("a", True), "b": csv("b", False), "c": csv("c", True), "d": csv("d", True)}
    )
    pipeline = Pipeline(
        [
            Node(lambda a: a, "a", "b", name="features"),  # its output is missing
            Node(lambda b: b, "b", "counts", name="count"),  # memory output, downstream
            Node(lambda n: n, "counts", "c", name="accounting"),  # exists, but its input changes
            Node(lambda a: a, "a", "d", name="other"),  # exists, inputs unchanged
        ]
    )
    assert {n.name for n in nodes_to_run(pipeline, catalog)} == {"features", "count", "accounting"}


def test_a_lost_storage_connection_says_where_and_how_to_continue():
    from kedro.io import DatasetError

    from aerial_landuse.core.errors import UserInputError, plain_error_message

    try:
        try:
            raise RuntimeError(
                "PythonException: aiohttp.client_exceptions.ClientConnectorError: Cannot connect "
                "to host 127.0.0.1:10000 ssl:default [Connect call failed ('127.0.0.1', 10000)]"
            )
        except RuntimeError as cause:
            raise DatasetError("Failed while saving data to dataset labelled_features") from cause
    except DatasetError as wrapped:
        message = plain_error_message(wrapped)
    assert message is not None and "blob storage at 127.0.0.1:10000" in message
    assert "kedro run --only-missing-outputs" in message
    assert plain_error_message(KeyError("a bug")) is None  # bugs keep their traceback
    wrapped_user = DatasetError("scoring_model: ...")
    wrapped_user.__cause__ = UserInputError("No trained model 'm'")
    assert plain_error_message(wrapped_user).startswith("No trained model 'm'")
