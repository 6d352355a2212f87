"""The test drivers' Spark configuration with a class-data-sharing archive (JDK 17 AppCDS) of the
JVM classes their `kedro run`s load: each driver then starts in 2.7-3.4 s instead of 5-5.5 and
runs its first job in 2.8 s instead of 6.3-7.

``python class_archive.py <folder>`` writes, in ``folder``: ``classes.jsa`` (made by a JVM started
with -XX:ArchiveClassesAtExit running a small job that touches Spark SQL, Parquet, Arrow to Python
and Spark ML), ``empty/`` (the drivers' SPARK_CONF_DIR: the JVM maps an archive only when no
folder on its classpath holds files, and only with the classpath it was made with) and, last,
``spark-defaults.conf`` (this folder's, its drivers' options naming the archive), so that a folder
with that file is complete. A JVM that cannot make or map the archive runs as before. The archive
belongs to this JDK and classpath: `make test` makes it once per .venv; conftest.py makes one per
test run where none was made."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ARCHIVE, EMPTY, DEFAULTS = "classes.jsa", "empty", "spark-defaults.conf"


def environment(folder: Path, properties: Path) -> dict[str, str]:
    """What a driver needs to map ``folder``'s archive (``properties``: its spark-defaults)."""
    return {
        "SPARK_CONF_DIR": str(folder / EMPTY),
        "PYSPARK_SUBMIT_ARGS": f"--properties-file {properties} pyspark-shell",
    }


def make(folder: Path) -> None:
    """The archive, the empty folder and, last, spark-defaults.conf in ``folder``."""
    (folder / EMPTY).mkdir(parents=True, exist_ok=True)
    archive, scratch = folder / ARCHIVE, folder / "job"
    for made in (folder / DEFAULTS, archive):  # not complete until written again
        made.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, __file__, "--job", str(archive), str(scratch)],
        env={
            **os.environ,
            **environment(folder, HERE / DEFAULTS),
            "PYSPARK_PYTHON": sys.executable,
        },
        capture_output=True,
        timeout=900,
        check=False,
    )
    shutil.rmtree(scratch, ignore_errors=True)
    defaults = (HERE / DEFAULTS).read_text()
    if archive.is_file() and archive.stat().st_size:
        option = f"-XX:SharedArchiveFile={archive} -Xlog:cds=off -Xlog:cds+dynamic=off"
        defaults = re.sub(
            r"(?m)^(spark\.driver\.defaultJavaOptions\s.*)$", rf"\1 {option}", defaults
        )
    (folder / f"{DEFAULTS}.partial").write_text(defaults)
    (folder / f"{DEFAULTS}.partial").rename(folder / DEFAULTS)


def job(archive: str, scratch: str) -> None:
    """The small job, in a JVM that writes ``archive`` when it exits (waited for here)."""
    import pandas as pd
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.defaultJavaOptions", f"-XX:ArchiveClassesAtExit={archive}")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    rows = spark.range(64).select(
        F.col("id").cast("string").alias("id"),
        (F.col("id") % 3).cast("string").alias("label"),
        F.rand(0).alias("x"),
        F.rand(1).alias("y"),
    )
    rows.write.mode("overwrite").parquet(f"{scratch}/rows.parquet")
    rows = spark.read.parquet(f"{scratch}/rows.parquet")

    @F.pandas_udf("double")
    def doubled(values: pd.Series) -> pd.Series:
        return values * 2

    rows = rows.withColumn("x", doubled("x")).repartition(2, "id").sortWithinPartitions("id")
    rows.groupBy("label").count().toPandas()
    features = VectorAssembler(inputCols=["x", "y"], outputCol="features").transform(rows)
    indexed = StringIndexer(inputCol="label", outputCol="label_index").fit(features)
    model = LogisticRegression(labelCol="label_index", maxIter=5).fit(indexed.transform(features))
    model.write().overwrite().save(f"{scratch}/model")
    model.transform(indexed.transform(features)).select("prediction").toPandas()
    _stop_and_wait_for_the_jvm(spark)


def _stop_and_wait_for_the_jvm(spark) -> None:
    """Stop Spark and wait until its JVM has exited, which is when it writes the archive: PySpark
    launched it with a pipe on its stdin, and it exits at the pipe's end."""
    gateway = spark.sparkContext._gateway
    spark.stop()
    gateway.shutdown()
    gateway.proc.stdin.close()
    gateway.proc.wait(timeout=600)


if __name__ == "__main__":
    if sys.argv[1] == "--job":
        job(sys.argv[2], sys.argv[3])
    else:
        make(Path(sys.argv[1]).resolve())
