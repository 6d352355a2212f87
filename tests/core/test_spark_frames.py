from aerial_landuse.core.spark_frames import partitions_for


def test_partitions_come_in_whole_waves_over_the_task_slots(spark):
    slots = spark.sparkContext.defaultParallelism
    assert slots == 2
    frame = spark.range(1)
    assert partitions_for(frame, 2000, 512) == 4
    assert partitions_for(frame, 1500, 512) == 4  # 3 would leave one slot idle in the last wave
    assert partitions_for(frame, 10, 512) == 2  # never fewer than the slots
    assert partitions_for(frame, 10**9, 1) == 10_000
