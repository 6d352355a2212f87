import logging

from kedro.io import DataCatalog, MemoryDataset
from kedro_datasets.spark import SparkDataset

from aerial_landuse.hooks import SparkSaveTimer


def test_save_timer_logs_written_spark_frames_only(spark, tmp_path, caplog):
    catalog = DataCatalog(
        {
            "features": SparkDataset(filepath=str(tmp_path / "f.parquet"), file_format="parquet"),
            "handover": MemoryDataset(),
        }
    )
    frame = spark.range(3)
    timer = SparkSaveTimer()
    timer.after_catalog_created(catalog)
    with caplog.at_level(logging.INFO, logger="aerial_landuse.hooks"):
        for name, data in (("features", frame), ("handover", frame), ("unregistered", frame)):
            timer.before_dataset_saved(name, data)
            timer.after_dataset_saved(name, data)
        timer.before_dataset_saved("features", "not a frame")
        timer.after_dataset_saved("features", "not a frame")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and messages[0].startswith("Wrote features in ")
