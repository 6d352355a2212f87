"""Project hooks: a SparkSession built from conf/<env>/spark.yml."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from pyspark import SparkConf
from pyspark.sql import SparkSession

from aerial_landuse.storage import blob_containers, check_containers

logger = logging.getLogger(__name__)


def spark_conf(settings: dict[str, object]) -> SparkConf:
    """SparkConf from spark.yml; local masters bind to loopback and run this interpreter."""
    conf = SparkConf().setAll([(k, str(v)) for k, v in settings.items()])
    if str(settings.get("spark.master", "local")).startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        conf.setIfMissing("spark.driver.host", "127.0.0.1")
        conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1")
        conf.setIfMissing("spark.pyspark.python", sys.executable)
        conf.setIfMissing("spark.pyspark.driver.python", sys.executable)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return conf


class SparkHooks:
    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Start (or join) the SparkSession before any node runs."""
        settings = dict(context.config_loader["spark"])
        conf = spark_conf(settings)
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
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        if self._context is None:
            return
        loader = self._context.config_loader
        accounts = blob_containers(loader["catalog"], loader["credentials"])
        if accounts:
            check_containers(accounts, run_params.get("env"))
