"""Spark's own task metrics per stage from an event log: tasks, wall time and where the
executors' time went (the slowest 12 stages first).

    python benchmarks/spark_eventlog_stages.py /tmp/sparkev/local-<app id>
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any


def _add_task(totals: dict[str, float], event: dict[str, Any]) -> None:
    metrics = event.get("Task Metrics") or {}
    info = event["Task Info"]
    totals["tasks"] += 1
    totals["run_s"] += metrics.get("Executor Run Time", 0) / 1000
    totals["jvm_cpu_s"] += metrics.get("Executor CPU Time", 0) / 1e9
    totals["deserialize_s"] += metrics.get("Executor Deserialize Time", 0) / 1000
    totals["gc_s"] += metrics.get("JVM GC Time", 0) / 1000
    totals["result_serialize_s"] += metrics.get("Result Serialization Time", 0) / 1000
    totals["written_mb"] += metrics.get("Output Metrics", {}).get("Bytes Written", 0) / 1e6
    totals["task_wall_s"] += (info["Finish Time"] - info["Launch Time"]) / 1000


def stage_table(path: str) -> list[str]:
    """One line per stage, slowest first: wall, tasks and the summed task metrics."""
    stages: dict[int, tuple[str, float, int]] = {}
    tasks: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with open(path) as log:
        for line in log:
            event = json.loads(line)
            if event["Event"] == "SparkListenerStageCompleted":
                info = event["Stage Info"]
                wall = (info.get("Completion Time", 0) - info.get("Submission Time", 0)) / 1000
                stages[info["Stage ID"]] = (info["Stage Name"][:60], wall, info["Number of Tasks"])
            elif event["Event"] == "SparkListenerTaskEnd":
                _add_task(tasks[event["Stage ID"]], event)
    lines = []
    for stage, (name, wall, count) in sorted(stages.items(), key=lambda kv: -kv[1][1])[:12]:
        metrics = ", ".join(f"{k} {v:.1f}" for k, v in tasks[stage].items() if k != "tasks")
        lines.append(f"stage {stage:3d} {wall:7.1f} s wall {count:4d} tasks | {metrics} | {name}")
    return lines


if __name__ == "__main__":
    print("\n".join(stage_table(sys.argv[1])))  # noqa: T201
