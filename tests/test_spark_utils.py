from aerial_landuse.spark_utils import partitions_for


def test_partitions_come_in_whole_waves_over_the_task_slots(spark):
    slots = spark.sparkContext.defaultParallelism
    assert slots == 2
    assert partitions_for(2000, 512) == 4
    assert partitions_for(1500, 512) == 4  # 3 would leave one slot idle in the last wave
    assert partitions_for(10, 512) == 2  # never fewer than the slots
    assert partitions_for(10**9, 1) == 10_000
