import numpy as np
import pandas as pd
import pytest
from pyspark.ml.linalg import Vectors

from aerial_landuse.datasets import SparkModelDataset
from aerial_landuse.pipelines.train import nodes
from aerial_landuse.pipelines.train.nodes import in_training_partitions, train_classifier
from tests.conftest import parameters

LABELS = ["Barren", "Forest", "Shrub"]


def clustered_features(spark, n_per_class=30, dim=8, seed=0, split="train"):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (len(LABELS), dim))
    rows = [
        (
            f"{split}/{label}/{i}",
            f"/tiles/{label}/{i}.png",
            label,
            split,
            Vectors.dense(centres[k] + rng.normal(0, 1, dim)),
        )
        for k, label in enumerate(LABELS)
        for i in range(n_per_class)
    ]
    return spark.createDataFrame(rows, ["id", "path", "label", "split", "features"])


def split_of(*frames) -> pd.DataFrame:
    """The train pipeline's split table for ``frames``: every row used, in its ``split``."""
    rows = pd.concat([f.select("id", "split").toPandas() for f in frames], ignore_index=True)
    return rows.assign(used=True)


def train(features, classifier_params):
    model, _ = train_classifier(features, split_of(features), classifier_params)
    return model


def params(classifier):
    return parameters("train") | {
        "preset": "as_given",
        "classifier": classifier,
        "model_name": f"test_{classifier}",
        "pretrained_model": "efficientnet_lite0",
        "hyperparameters": {
            "logistic_regression": {"maxIter": 50, "regParam": 0.01},
            "random_forest": {"numTrees": 20, "maxDepth": 5, "seed": 1},
            "lightgbm": {"numIterations": 30, "minDataInLeaf": 2, "seed": 1},
        },
    }


@pytest.mark.parametrize("classifier", ["logistic_regression", "random_forest", "lightgbm"])
def test_every_classifier_learns_separable_classes(spark, classifier):
    model = train(clustered_features(spark), params(classifier))
    assert model.labels == LABELS
    assert model.info["classifier"] == classifier and model.info["train_tiles_per_class"] == {
        c: 30 for c in LABELS
    }
    test = clustered_features(spark, 10, seed=0, split="test")
    predicted = model.predict(test).select("label", "pred_label").toPandas()
    assert (predicted["label"] == predicted["pred_label"]).mean() > 0.9


def test_model_round_trips_through_the_catalog_under_its_name(spark, tmp_path):
    model = train(clustered_features(spark), params("logistic_regression"))
    dataset = SparkModelDataset(path=str(tmp_path / "trained" / "test_logistic_regression"))
    dataset.save(model)
    loaded = dataset.load()
    assert loaded.labels == LABELS and loaded.name == "test_logistic_regression"
    features = clustered_features(spark, 5, seed=0)
    before = [r["pred_label"] for r in model.predict(features).orderBy("id").collect()]
    after = [r["pred_label"] for r in loaded.predict(features).orderBy("id").collect()]
    assert before == after


def test_missing_model_says_how_to_train_it(tmp_path):
    with pytest.raises(Exception, match="--params model_name=nope"):
        SparkModelDataset(path=str(tmp_path / "nope")).load()


def test_lightgbm_trains_through_synapseml_train_classifier_and_round_trips(spark, tmp_path):
    from synapse.ml.lightgbm import LightGBMClassificationModel

    model = train(clustered_features(spark), params("lightgbm"))
    assert isinstance(model.pipeline.stages[0], LightGBMClassificationModel)  # TrainClassifier's
    dataset = SparkModelDataset(path=str(tmp_path / "lightgbm"))
    dataset.save(model)
    loaded = dataset.load()
    features = clustered_features(spark, 5, seed=0)
    scored = loaded.predict(features).select("pred_label", "probability").collect()
    assert {r["pred_label"] for r in scored} == set(LABELS)
    assert all(abs(sum(r["probability"]) - 1) < 1e-6 for r in scored)
    before = model.predict(features).select("pred_label", "probability").collect()
    assert [r["pred_label"] for r in scored] == [r["pred_label"] for r in before]
    native = (tmp_path / "lightgbm" / "classifier.txt").read_text()
    assert (
        native.startswith("tree") and f"num_class={len(LABELS)}" in native
    )  # LightGBM's own model text


@pytest.mark.parametrize("classifier", ["logistic_regression", "random_forest", "lightgbm"])
def test_no_stored_model_file_is_java_serialized(spark, tmp_path, classifier):
    SparkModelDataset(path=str(tmp_path / "m")).save(
        train(clustered_features(spark), params(classifier))
    )
    stored = [p for p in (tmp_path / "m").rglob("*") if p.is_file()]
    assert stored and not [p for p in stored if p.read_bytes()[:2] == b"\xac\xed"]


def test_a_spark_ml_model_is_read_by_plain_pipeline_model_load(spark, tmp_path):
    from pyspark.ml import PipelineModel

    model = train(clustered_features(spark), params("logistic_regression"))
    SparkModelDataset(path=str(tmp_path / "m")).save(model)
    pipeline = PipelineModel.load(str(tmp_path / "m" / "pipeline"))
    assert pipeline.stages[0].numClasses == len(LABELS)
    features = clustered_features(spark, 4, seed=1)
    labels = [r["pred_label"] for r in pipeline.transform(features).orderBy("id").collect()]
    assert labels == [r["pred_label"] for r in model.predict(features).orderBy("id").collect()]


def tuned(classifier, grid, **tuning):
    return {
        **params(classifier),
        "preset": "tuned",
        "tuning": parameters("train")["tuning"]
        | {"method": "cross_validation", "folds": 3, "seed": 0, "grids": {classifier: grid}}
        | tuning,
    }


def test_tuned_preset_picks_the_grid_point_that_validates_best_and_records_it(spark):
    """logLoss is smaller-is-better: a 10x stronger penalty than needed must lose."""
    grid = {"regParam": [10.0, 0.001]}
    model, record = train_classifier(
        clustered_features(spark),
        split_of(clustered_features(spark)),
        tuned("logistic_regression", grid, metric="logLoss"),
    )
    assert model.info["tuning"]["chosen"] == {"regParam": 0.001}
    assert model.info["hyperparameters"]["regParam"] == 0.001  # what the saved model used
    assert model.pipeline.stages[0].getRegParam() == 0.001
    scores = {s["params"]["regParam"]: s["score"] for s in model.info["tuning"]["scores"]}
    assert scores[0.001] < scores[10.0]
    assert record["tuning.preset"] == "tuned" and record["tuning.method"] == "cross_validation"
    assert record["tuned.regParam"] == 0.001 and record["tuning.grid_points"] == 2


def test_seed_preset_keeps_the_fixed_hyperparameters(spark):
    model, record = train_classifier(
        clustered_features(spark), split_of(clustered_features(spark)), params("random_forest")
    )
    assert model.pipeline.stages[0].getNumTrees == 20
    assert record == {"tuning.preset": "as_given"}


@pytest.mark.parametrize("classifier", ["random_forest", "lightgbm"])
def test_tree_classifiers_tune_by_train_validation_split(spark, classifier):
    grid = {"maxDepth": [2, 4]} if classifier == "random_forest" else {"numLeaves": [3, 7]}
    model, record = train_classifier(
        clustered_features(spark),
        split_of(clustered_features(spark)),
        tuned(classifier, grid, method="train_validation_split", train_ratio=0.7),
    )
    assert set(model.info["tuning"]["chosen"]) == set(grid)
    assert record["tuning.method"] == "train_validation_split"
    test = clustered_features(spark, 10, seed=0, split="test")
    predicted = model.predict(test).select("label", "pred_label").toPandas()
    assert (predicted["label"] == predicted["pred_label"]).mean() > 0.9


def test_train_rows_get_one_partition_per_few_thousand_rows_in_an_order_of_their_own(
    spark, monkeypatch
):
    """A fit runs a Spark job per iteration, a task per partition: a few hundred rows in one."""
    features = clustered_features(spark, n_per_class=10)  # 30 rows
    ids = [r.id for r in in_training_partitions(features.repartition(5)).collect()]
    assert in_training_partitions(features.repartition(5)).rdd.getNumPartitions() == 1
    assert ids == [r.id for r in in_training_partitions(features.coalesce(1)).collect()]
    monkeypatch.setattr(nodes, "ROWS_PER_PARTITION", 12)
    assert in_training_partitions(features).rdd.getNumPartitions() == 3
    monkeypatch.setattr(nodes, "ROWS_PER_PARTITION", 1)
    assert in_training_partitions(features).rdd.getNumPartitions() == 8  # at most


def test_a_forest_is_the_same_however_the_features_are_partitioned(spark):
    """A seeded forest's bootstrap samples follow the partitions: fixed by the rows alone."""
    features = clustered_features(spark, n_per_class=20, seed=5)
    forest = params("random_forest") | {
        "hyperparameters": {
            "random_forest": {"numTrees": 5, "maxDepth": 3, "seed": 1, "subsamplingRate": 0.6}
        }
    }
    test = clustered_features(spark, 10, seed=6, split="test")
    probabilities = []
    for partitions in (1, 7):
        model = train(features.repartition(partitions), forest)
        scored = model.predict(test).select("id", "probability").orderBy("id").toPandas()
        probabilities.append(np.stack(scored["probability"].map(list)))
    np.testing.assert_allclose(probabilities[0], probabilities[1])


def test_the_search_chooses_the_same_however_the_features_are_partitioned(spark):
    """Folds are drawn per row from a seed: they must not depend on how Spark split the rows
    (a laptop and a cluster partition the same features differently)."""
    features = clustered_features(spark, n_per_class=20, seed=4)
    grid = {"regParam": [0.001, 1.0]}
    chosen, scores = [], []
    for partitions in (1, 7):
        model, _ = train_classifier(
            features.repartition(partitions),
            split_of(features),
            tuned("logistic_regression", grid, metric="logLoss"),
        )
        chosen.append(model.info["tuning"]["chosen"])
        scores.append([s["score"] for s in model.info["tuning"]["scores"]])
    assert chosen[0] == chosen[1]
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-6)  # the same folds
