"""Run by conftest.py once per test run, in a JVM started with -XX:ArchiveClassesAtExit: a small
job touching what the tests' `kedro run`s load (Spark SQL, Parquet, Arrow to Python, Spark ML),
so that the archive holds those classes. ``python class_archive.py <archive> <scratch folder>``."""

import sys

import pandas as pd
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main(archive: str, scratch: str) -> None:
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
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
