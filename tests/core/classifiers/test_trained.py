"""aerial_landuse.core.classifiers.trained: what train, evaluate and score read from the features."""

import pytest

from aerial_landuse.core.classifiers.trained import usable_features


def test_usable_features_of_a_split_need_the_split_table(spark):
    frame = spark.createDataFrame(
        [("train/a", "x", [1.0])], "id string, split string, features array<float>"
    )
    with pytest.raises(ValueError, match="labelled_split"):
        usable_features(frame, "train")
