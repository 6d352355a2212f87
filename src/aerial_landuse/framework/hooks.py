"""Project hooks: a SparkSession built from conf/<env>/spark.yml."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys
import time
from typing import Any
from urllib.parse import urlparse

import click
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines
from kedro.io import AbstractDataset
from kedro_mlflow.framework.hooks import MlflowHook
from mlflow import MlflowClient, active_run
from mlflow.entities import Param
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH
from pyspark import SparkConf
from pyspark.sql import DataFrame, SparkSession

from aerial_landuse.core.contracts import DRIVER_ONLY
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.datasets.mlflow_runs import choose_model
from aerial_landuse.framework.config import ProjectConfigLoader
from aerial_landuse.framework.console import print_user_errors_plainly
from aerial_landuse.framework.parameters import validate_parameters
from aerial_landuse.storage import (
    blob_containers,
    check_containers,
    check_writable,
    written_containers,
)

logger = logging.getLogger(__name__)


class ClusterConfigError(UserInputError):
    """The Spark settings cannot reach a cluster; the message names the setting and the fix."""


def spark_conf(settings: dict[str, object]) -> SparkConf:
    """SparkConf from spark.yml. Local masters bind to loopback and run this interpreter; any
    other master must say in spark.yml which Python its executors run (they share nothing
    with the driver but what Spark ships)."""
    conf = SparkConf().setAll([(k, str(v)) for k, v in settings.items() if v is not None])
    master = str(settings.get("spark.master", "local"))
    conf.setIfMissing("spark.pyspark.driver.python", sys.executable)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        conf.setIfMissing("spark.driver.host", "127.0.0.1")
        conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1")
        conf.setIfMissing("spark.pyspark.python", sys.executable)
    elif not settings.get("spark.pyspark.python"):
        raise ClusterConfigError(
            f"spark.master is {master} but spark.yml does not set spark.pyspark.python, the "
            "executors' Python. Pack the executor environment (`make executor-env`), ship it with "
            "spark.archives: <archive>#environment and set spark.pyspark.python: "
            "./environment/bin/python (see conf/cluster/spark.yml and docs/cluster.md)."
        )
    _ui_on_the_driver_address(conf)
    if not sys.stderr.isatty():  # on a file or pipe a progress bar is one endless line
        conf.set("spark.ui.showConsoleProgress", "false")
    os.environ["PYSPARK_PYTHON"] = conf.get("spark.pyspark.python")
    return conf


def _ui_on_the_driver_address(conf: SparkConf) -> None:
    """Spark's UI binds to SPARK_LOCAL_IP, else to every interface: a driver bound to loopback
    (local, the standalone test cluster) keeps its UI there too. A driver that executors reach
    over the network (YARN) keeps Spark's default, for YARN's proxy to reach the UI."""
    bind = conf.get("spark.driver.bindAddress", None)
    try:
        loopback = bind is not None and ipaddress.ip_address(bind).is_loopback
    except ValueError:
        loopback = bind == "localhost"
    if loopback:
        os.environ.setdefault("SPARK_LOCAL_IP", str(bind))


def check_master(settings: dict[str, object]) -> None:
    """Fail with the missing piece, not a Java stack trace, when the master cannot be reached."""
    master = str(settings.get("spark.master", "local"))
    if master.startswith("spark://"):
        url = urlparse(master)
        try:
            with socket.create_connection((url.hostname, url.port or 7077), timeout=5):
                return
        except OSError as exc:
            raise ClusterConfigError(
                f"No Spark master answers at {master} ({exc.strerror or exc}). Start the local "
                "standalone cluster with `make cluster-up`, or point spark.master in "
                "conf/<env>/spark.yml (or --params spark_master=...) at your cluster."
            ) from None
    if master == "yarn" and not (
        os.environ.get("HADOOP_CONF_DIR") or os.environ.get("YARN_CONF_DIR")
    ):
        raise ClusterConfigError(
            "spark.master is yarn but neither HADOOP_CONF_DIR nor YARN_CONF_DIR is set, so Spark "
            "cannot find the YARN ResourceManager. Run on the cluster's head node (HDInsight sets "
            "them), or export HADOOP_CONF_DIR=/etc/hadoop/conf; see docs/cluster.md."
        )


READ_ONLY_COMMANDS = frozenset({"catalog", "registry", "viz", "mlflow", "info", "pipeline"})


def _cli_command() -> list[str]:
    """The kedro subcommand path being run (``["catalog", "describe-datasets"]``); empty outside
    the CLI (notebooks, KedroSession in a script)."""
    context = click.get_current_context(silent=True)
    names = []
    while context is not None and context.parent is not None:
        names.append(context.info_name or "")
        context = context.parent
    return names[::-1]


def reads_only() -> bool:
    """A command that only reads the project (``kedro catalog``, ``registry``, ``viz``)."""
    command = _cli_command()
    return bool(command) and command[0] in READ_ONLY_COMMANDS


def _requested_pipelines() -> list[str] | None:
    """The pipelines ``kedro run`` was asked for (``__default__`` when none was named); None
    outside ``kedro run``."""
    context = click.get_current_context(silent=True)
    if _cli_command() != ["run"] or context is None:
        return None
    named = context.params.get("pipelines") or [context.params.get("pipeline")]
    return [name for name in named if name] or ["__default__"]


def needs_spark() -> bool:
    """Read-only commands start no JVM, nor does a ``kedro run`` of pipelines whose nodes are all
    tagged DRIVER_ONLY (demo_data, pretrained, compare); other runs, notebooks and scripts do."""
    if reads_only():
        return False
    requested = _requested_pipelines()
    if requested is None or not set(requested) <= set(pipelines):
        return True  # Kedro itself names a pipeline that is not registered
    return not all(DRIVER_ONLY in node.tags for name in requested for node in pipelines[name].nodes)


class SparkHooks:
    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Start (or join) the SparkSession before any node runs."""
        if not needs_spark():
            return
        settings = dict(context.config_loader["spark"])
        conf = spark_conf(settings)
        check_master(settings)
        spark = (
            SparkSession.builder.appName(context.project_path.name).config(conf=conf).getOrCreate()
        )
        spark.sparkContext.setLogLevel("WARN")
        logger.info(
            "Spark %s on %s (UI: %s)",
            spark.version,
            spark.sparkContext.master,
            spark.sparkContext.uiWebUrl,
        )


class StorageHooks:
    """Checks blob endpoints, credentials and containers once, before the pipeline runs."""

    def __init__(self) -> None:
        self._context: KedroContext | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._context = context

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        if self._context is None:
            return
        loader = self._context.config_loader
        accounts = blob_containers(loader["catalog"], loader["credentials"])
        if accounts:
            check_containers(accounts, run_params.get("env"))
            for account, found in accounts.items():
                check_writable(account, written_containers(found, pipeline.all_outputs()))
            containers = sorted({c for found in accounts.values() for c in found})
            logger.info("Outputs go to blob containers %s.", ", ".join(containers))


class ChosenModel:
    """``--params model_name=best``: the top MLflow run's model is chosen once, after
    kedro-mlflow has set the tracking store and before the catalog is made, so that the
    catalog's paths and the loaded model name the same model (catalog.yml ``_model``)."""

    @hook_impl(trylast=True)
    def after_context_created(self, context: KedroContext) -> None:
        loader = context.config_loader
        requested = loader.runtime_params
        if requested.get("model_name") != "best" or reads_only():
            return
        globals_ = loader["globals"]
        name, run_id, value = choose_model(
            "best",
            globals_["experiment"],
            requested.get("select_by", globals_["select_by"]),
            requested.get("dataset", globals_["dataset"]),
        )
        if isinstance(loader, ProjectConfigLoader):
            loader.choose_model(name)
        logger.info("model_name=best: %s (MLflow run %s, %s)", name, run_id, value)


class InputChecks:
    """The run's parameters are checked first, before Spark starts (parameters.py); commands
    that only read the project (``kedro catalog``, ``viz``) are not stopped by them."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        print_user_errors_plainly()  # after Kedro's logging setup reinstalled rich's hook
        if not reads_only():
            validate_parameters(context.params)


class OnlyMissingOutputs:
    """``kedro run --only-missing-outputs`` made safe to rerun after a failure or a kill:

    - a node whose inputs will be rewritten runs again even if its own outputs exist (Kedro
      skips it), so counts, reports and predictions never describe older inputs;
    - when every output is in place nothing runs, and kedro-mlflow opens no MLflow run either
      (it would be an empty run in the history).
    """

    def __init__(self) -> None:
        self._context: KedroContext | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._context = context

    @hook_impl(tryfirst=True)  # before kedro-mlflow's hook opens the run
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if not run_params.get("only_missing_outputs"):
            return
        running = nodes_to_run(pipeline, catalog)
        for node in running:
            for name in node.outputs:
                if name not in catalog:
                    continue
                dataset = catalog.get(name)
                # an ephemeral output (MLflow tracking) has no "exists" to ask before a run
                if getattr(dataset, "_EPHEMERAL", False) or catalog.exists(name):
                    catalog[name] = _Rewritten(dataset)
        tracking = getattr(self._context, "mlflow", None)
        if not running and tracking is not None:
            names = run_params.get("pipeline_names") or ["__default__"]
            tracking.tracking.disable_tracking.pipelines.extend(names)
            logger.info("Every output exists: nothing to run, so no MLflow run is opened.")
        elif running:
            logger.info(
                "Running %d node(s): outputs missing, or inputs rewritten by this run", len(running)
            )


def nodes_to_run(pipeline: Any, catalog: Any) -> set[Any]:
    """Nodes with a missing persistent output (Kedro's rule), and every node downstream of one."""
    parents = pipeline.node_dependencies
    running: set[Any] = set()
    for node in pipeline.nodes:  # topological order
        if _node_must_run(node, catalog) or parents.get(node, set()) & running:
            running.add(node)
    return running


def _node_must_run(node: Any, catalog: Any) -> bool:
    """Kedro's --only-missing-outputs rule: no outputs, or a persistent output missing."""
    if not node.outputs:
        return True
    for name in node.outputs:
        if name in catalog and not getattr(catalog.get(name), "_EPHEMERAL", False):
            if not catalog.exists(name):
                return True
    return False


class _Rewritten(AbstractDataset):
    """An existing output that this run rewrites because its inputs change: reported missing
    to Kedro's ``--only-missing-outputs`` filter, otherwise the dataset itself."""

    def __init__(self, dataset: AbstractDataset) -> None:
        self.dataset = dataset
        self.metadata = getattr(dataset, "metadata", None)

    def load(self) -> Any:
        return self.dataset.load()

    def save(self, data: Any) -> None:
        self.dataset.save(data)

    def _exists(self) -> bool:
        return False

    def _describe(self) -> dict[str, Any]:
        return {"rewritten": str(self.dataset)}


class BatchedParamsMlflowHook(MlflowHook):
    """kedro-mlflow's hook (registered here in its place, settings.py), sending each node's
    parameters to the tracking store in one call instead of one call per parameter (an SQLite
    transaction or an HTTP request each: 10-16 ms, several hundred per run), and not again
    those this run has already logged with the same value. What is logged is unchanged: names,
    flattening and the long-parameter rule are kedro-mlflow's (``_log_param`` is its
    per-parameter step; were it renamed, parameters would simply go one call each again)."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: dict[str, str] | None = None
        self._logged: dict[str, dict[str, str]] = {}

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool
    ) -> None:
        self._pending = {}
        try:
            super().before_node_run(node, catalog, inputs, is_async)
            self._send(self._pending)
        finally:
            self._pending = None

    def _log_param(self, name: str, value: Any) -> None:
        if self._pending is None or len(str(value)) > MAX_PARAM_VAL_LENGTH:
            super()._log_param(name, value)  # the long-parameter rule: kedro-mlflow's
        else:
            self._pending[name] = str(value)  # as mlflow.log_param stores it

    def _send(self, params: dict[str, str]) -> None:
        run = active_run()
        if run is None or not params:
            return
        logged = self._logged.setdefault(run.info.run_id, {})
        new = [Param(k, v) for k, v in params.items() if logged.get(k) != v]
        client = MlflowClient()
        for start in range(0, len(new), MAX_PARAMS_TAGS_PER_BATCH):
            batch = new[start : start + MAX_PARAMS_TAGS_PER_BATCH]
            client.log_batch(run.info.run_id, params=batch)
        logged.update(params)


class SparkSaveTimer:
    """Logs how long each Spark DataFrame took to save: lazy work (featurize's network pass,
    scoring) runs there, so that is where the time of a Spark node shows."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._catalog: Any = None

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        self._catalog = catalog

    def _writes(self, dataset_name: str) -> bool:
        """False for in-memory hand-overs between nodes (nothing is computed there)."""
        kind = self._catalog.get_type(dataset_name) if self._catalog is not None else None
        return kind is not None and not kind.endswith("MemoryDataset")

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if isinstance(data, DataFrame) and self._writes(dataset_name):
            self._started[dataset_name] = time.perf_counter()

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        started = self._started.pop(dataset_name, None)
        if started is not None:
            logger.info("Wrote %s in %.1f s", dataset_name, time.perf_counter() - started)
