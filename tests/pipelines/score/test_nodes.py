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
    scored, record = score_tiles(
        model, score_features(spark), parameters("score", pretrained_model="efficientnet_lite0")
    )
    scored = scored.toPandas()
    assert record["model_name"] == "test_random_forest"
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


def test_the_score_pipeline_loads_its_model_once():
    from aerial_landuse.pipelines.score.pipeline import create_pipeline

    readers = [node.name for node in create_pipeline().nodes if "trained_model" in node.inputs]
    assert readers == ["score_tiles"]  # the record comes from the same load


def test_a_raster_regions_scores_become_a_class_cog_and_a_probability_cog(tmp_path):
    """One pixel per cell in the grid's CRS: class codes with the report's colours and names,
    probabilities per class; nodata where a cell was not scored; nothing for tile regions."""
    import pandas as pd
    import rasterio

    from aerial_landuse.core.geometry.cell_grid import CellGrid
    from aerial_landuse.core.tiles.cog import CLASS_NODATA, is_valid_cog
    from aerial_landuse.core.tiles.raster_region import RasterRegion
    from aerial_landuse.pipelines.score.nodes import rasterize_scores
    from aerial_landuse.reporting.maps import class_colours

    grid = CellGrid("EPSG:32619", 224.0, 1383, 1385, 20980, 20981)  # 3 x 2 cells
    record = RasterRegion(grid, ()).to_record()
    scored = pd.DataFrame(
        {
            "id": ["32619_1383_20981", "32619_1385_20980"],  # north-west, south-east
            "pred_label": ["Forest", "Developed"],
            "prob_Developed": [0.1, 0.8],
            "prob_Forest": [0.9, 0.2],
        }
    )
    layers = rasterize_scores(scored, record)
    for name, layer in layers.items():
        layer.write(tmp_path / f"{name}.tif")
        assert is_valid_cog(tmp_path / f"{name}.tif")
    with rasterio.open(tmp_path / "land_use.tif") as classes:
        codes = classes.read(1)
        assert classes.crs.to_epsg() == 32619 and classes.res == (224.0, 224.0)
        assert classes.bounds.left == 1383 * 224 and classes.bounds.top == 20982 * 224
        assert codes.tolist() == [[2, 0, 0], [0, 0, 1]] and classes.nodata == CLASS_NODATA
        assert classes.tags(1)["CLASS_1"] == "Developed"
        forest = class_colours(["Developed", "Forest"])["Forest"]
        assert "#{:02x}{:02x}{:02x}".format(*classes.colormap(1)[2][:3]) == forest
    with rasterio.open(tmp_path / "probabilities.tif") as probabilities:
        assert probabilities.descriptions == ("Developed", "Forest")
        assert probabilities.read()[:, 0, 0].tolist() == pytest.approx([0.1, 0.9])
        assert probabilities.read(1)[0, 1] == probabilities.nodata
    assert rasterize_scores(scored, {}) == {}
