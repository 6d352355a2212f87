"""SynapseML on this project's Spark: the jars check, LightGBM via TrainClassifier, ONNXModel.

SynapseML's PyPI wheel holds only Python wrappers; the JVM classes come from Maven Central
(tools/synapseml/pom.xml, copied into .jars/synapseml and put on ``spark.jars`` by spark.yml).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

JAR_HINT = (
    "SynapseML's jars are not on Spark's classpath: run `make synapseml-jars` (Maven) so that "
    ".jars/synapseml/ holds them, or give the cluster the Maven coordinates "
    "com.microsoft.azure:synapseml_2.12:1.1.0 in spark.jars.packages."
)


def require_jars(spark: SparkSession) -> None:
    """Raise a clear error when SynapseML's JVM classes cannot be loaded."""
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(  # type: ignore[union-attr]
            "com.microsoft.azure.synapse.ml.train.TrainClassifier",
            True,
            spark.sparkContext._jvm.java.lang.Thread.currentThread().getContextClassLoader(),  # type: ignore[union-attr]
        )
    except Exception as exc:  # py4j wraps ClassNotFoundException
        raise RuntimeError(JAR_HINT) from exc


def lightgbm_classifier(
    spark: SparkSession, hyperparameters: dict[str, Any], **columns: str
) -> Any:
    """SynapseML's multiclass LightGBMClassifier with ``hyperparameters`` (its jars checked);
    ``columns``: featuresCol/labelCol when it is used without TrainClassifier."""
    from synapse.ml.lightgbm import LightGBMClassifier

    require_jars(spark)
    return LightGBMClassifier(
        **{"objective": "multiclass", "verbosity": -1, **columns, **hyperparameters}
    )


def train_lightgbm(
    train_features: DataFrame, hyperparameters: dict[str, Any]
) -> tuple[Any, list[str]]:
    """LightGBM through SynapseML's TrainClassifier, as the seed trained; (its LightGBM model,
    class labels)."""
    from synapse.ml.train import TrainClassifier

    estimator = lightgbm_classifier(train_features.sparkSession, hyperparameters)
    trainer = TrainClassifier(
        model=estimator, labelCol="label", featuresCol="train_classifier_features"
    )
    fitted = trainer.fit(train_features.select("label", "features"))
    return lightgbm_stage(fitted), list(fitted.getLevels())


def lightgbm_stage(fitted: Any) -> Any:
    """TrainClassifier's LightGBM model reading ``features`` itself: the model that predicts.
    TrainClassifier's other stages assemble ``features`` alone into a column of its own (no
    categorical or missing values to handle), and its saved form would hold the booster as a
    Java-serialized object; LightGBM's own model text replaces it (datasets/spark_model.py)."""
    booster = fitted.getModel().stages[-1]
    return booster.setFeaturesCol("features")


def image_tensors(
    frame: DataFrame, content: str, image_size: int, mean: tuple[float, ...], std: tuple[float, ...]
) -> DataFrame:
    """Decode and resize ``content`` bytes with SynapseML's ImageTransformer (OpenCV) into a
    normalised float CHW tensor column ``tensor``; null where the bytes are not an image."""
    from synapse.ml.opencv import ImageTransformer

    transformer = (
        ImageTransformer()
        .setInputCol(content)
        .setOutputCol("tensor")
        .resize(image_size, image_size)
        .normalize(
            mean=[m / 255 for m in mean], std=[s / 255 for s in std], color_scale_factor=1 / 255
        )
        .setTensorElementType(T.FloatType())
        .setTensorChannelOrder("RGB")
    )
    return transformer.transform(frame)


def onnx_features(
    frame: DataFrame, network_bytes: bytes, input_name: str, output_name: str, batch_size: int
) -> DataFrame:
    """Run the ONNX network on the ``tensor`` column with SynapseML's ONNXModel: ``features``."""
    from synapse.ml.onnx import ONNXModel

    model = (
        ONNXModel()
        .setModelPayload(network_bytes)
        .setFeedDict({input_name: "tensor"})
        .setFetchDict({"features": output_name})
        .setMiniBatchSize(batch_size)
    )
    return model.transform(frame)
