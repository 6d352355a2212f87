import numpy as np
import pytest
from pyspark.sql import functions as F
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import f1_score, precision_recall_fscore_support

from aerial_landuse.pipelines.evaluate.nodes import (
    confusion_matrix,
    evaluate_model,
    label_pair_counts,
    metrics_from_confusion,
    predict_test_tiles,
    tabulate_test_predictions,
)
from tests.pipelines.train.test_nodes import LABELS, clustered_features, params, split_of, train


def test_recall_divides_by_true_class_totals_not_predictions():
    # 10 true Forest, 8 found; 2 Shrub tiles also called Forest.
    matrix = np.array([[8, 2], [2, 8]])
    matrix[1] = [2, 18]  # Shrub: 20 tiles, 18 right
    m = metrics_from_confusion(matrix, ["Forest", "Shrub"])
    assert m["per_class"]["Forest"]["recall"] == pytest.approx(8 / 10)
    assert m["per_class"]["Forest"]["precision"] == pytest.approx(8 / 10)
    assert m["per_class"]["Shrub"]["recall"] == pytest.approx(18 / 20)
    assert m["per_class"]["Shrub"]["precision"] == pytest.approx(18 / 20)
    skewed = metrics_from_confusion(np.array([[5, 5], [0, 10]]), ["a", "b"])
    assert skewed["per_class"]["a"]["recall"] == pytest.approx(0.5)
    assert skewed["per_class"]["a"]["precision"] == pytest.approx(1.0)
    assert skewed["per_class"]["b"]["recall"] == pytest.approx(1.0)


def test_metrics_agree_with_scikit_learn_on_random_predictions():
    rng = np.random.default_rng(3)
    labels = ["a", "b", "c", "d"]
    truth = rng.choice(labels, 300, p=[0.4, 0.3, 0.2, 0.1])
    predicted = np.where(rng.random(300) < 0.6, truth, rng.choice(labels, 300))
    matrix = sk_confusion(truth, predicted, labels=labels)
    m = metrics_from_confusion(matrix, labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    for i, label in enumerate(labels):
        assert m["per_class"][label]["precision"] == pytest.approx(precision[i])
        assert m["per_class"][label]["recall"] == pytest.approx(recall[i])
        assert m["per_class"][label]["f1"] == pytest.approx(f1[i])
        assert m["per_class"][label]["support"] == support[i]
    assert m["accuracy"] == pytest.approx((truth == predicted).mean())
    assert m["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert m["weighted_f1"] == pytest.approx(f1_score(truth, predicted, average="weighted"))


def test_evaluate_on_spark_gives_confusion_and_scenario_csv(spark):
    model = train(clustered_features(spark), params("logistic_regression"))
    test = clustered_features(spark, 10, split="test")
    predictions = predict_test_tiles(model, test, split_of(test))
    metrics = evaluate_model(model, predictions)
    assert metrics["n_test"] == 30 and metrics["accuracy"] > 0.9
    assert metrics["confusion_matrix"]["labels"] == LABELS
    assert np.asarray(metrics["confusion_matrix"]["counts"]).sum(axis=1).tolist() == [10, 10, 10]
    assert metrics["model"]["model_name"] == "test_logistic_regression"
    csv = tabulate_test_predictions(predictions)
    assert list(csv.columns)[:3] == ["filepath", "label", "pred_label"] and len(csv) == 30
    assert {"id", "confidence"} <= set(csv.columns)
    assert confusion_matrix(label_pair_counts(predictions), LABELS).sum() == 30


def test_a_test_class_the_model_never_learned_counts_as_errors_and_is_named(spark, caplog):
    """A spatial split can put every block of a rare class on the test side: its tiles are
    counted (recall 0), not refused, and the metrics and the log name the class."""
    model = train(clustered_features(spark), params("logistic_regression"))
    rows = [(LABELS[0], LABELS[0]), (LABELS[1], LABELS[1]), ("Developed", LABELS[0])]
    predictions = spark.createDataFrame(rows, ["label", "pred_label"])
    metrics = evaluate_model(model, predictions)
    assert metrics["confusion_matrix"]["labels"] == [*LABELS, "Developed"]
    assert metrics["unlearned_classes"] == ["Developed"] and metrics["accuracy"] == pytest.approx(
        2 / 3
    )
    assert metrics["per_class"]["Developed"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
    }
    assert "Developed, which the model has no train tile of" in caplog.text


@pytest.mark.parametrize("classifier", ["logistic_regression", "lightgbm"])
def test_synapseml_compute_model_statistics_agrees_on_accuracy_and_confusion(spark, classifier):
    from synapse.ml.train import ComputeModelStatistics

    model = train(clustered_features(spark, 20), params(classifier))
    noisy = clustered_features(spark, 15, seed=0, split="test")
    predictions = predict_test_tiles(model, noisy, split_of(noisy))
    ours = evaluate_model(model, predictions)
    index = F.create_map(
        *[x for i, label in enumerate(model.labels) for x in (F.lit(label), F.lit(float(i)))]
    )
    scored = predictions.select(
        index[F.col("label")].alias("label_index"),
        index[F.col("pred_label")].alias("prediction_index"),
    )
    theirs = (
        ComputeModelStatistics(
            evaluationMetric="classification",
            labelCol="label_index",
            scoredLabelsCol="prediction_index",
        )
        .transform(scored)
        .first()
    )
    assert float(theirs["accuracy"]) == pytest.approx(ours["accuracy"])
    confusion = theirs["confusion_matrix"].toArray().astype(int).tolist()
    assert confusion == ours["confusion_matrix"]["counts"]
