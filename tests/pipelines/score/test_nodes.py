import numpy as np
import pytest
from pyspark.sql import functions as F

from aerial_landuse.pipelines.score.nodes import score_tiles, tabulate_score_predictions
from tests.conftest import parameters
from tests.pipelines.train.test_nodes import LABELS, clustered_features, params, train


def score_features(spark):
    features = clustered_features(spark, 4, split="score").drop("label")
    return (
        features.withColumn("filename", F.concat(F.col("id"), F.lit(".png")))
        .withColumn("llcrnrlat", F.lit(42.0))
        .withColumn("llcrnrlon", F.lit(-71.0))
        .withColumn("urcrnrlat", F.lit(42.002))
        .withColumn("urcrnrlon", F.lit(-70.997))
    )


def test_scores_have_bounds_prediction_and_a_probability_per_class(spark):
    model = train(clustered_features(spark), params("random_forest"))
    scored = score_tiles(
        model, score_features(spark), parameters("score", pretrained_model="efficientnet_lite0")
    ).toPandas()
    assert len(scored) == 12
    probabilities = scored[[f"prob_{c}" for c in LABELS]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert (scored["pred_label"] == np.array(LABELS)[probabilities.argmax(axis=1)]).all()
    assert np.allclose(scored["confidence"], probabilities.max(axis=1))
    assert scored["model_name"].eq("test_random_forest").all()
    csv = tabulate_score_predictions(scored)
    assert list(csv.columns[:2]) == ["filepath", "pred_label"] and "llcrnrlat" in csv.columns


def test_model_trained_on_another_network_is_refused(spark):
    model = train(clustered_features(spark), params("logistic_regression"))
    with pytest.raises(ValueError, match="pretrained_model=efficientnet_lite0"):
        score_tiles(model, score_features(spark), parameters("score", pretrained_model="resnet18"))
