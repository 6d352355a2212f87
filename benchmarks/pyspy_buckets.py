"""py-spy's raw (collapsed) samples of `make bench` bucketed by process (the driver, Spark's
Python workers) and by the part of the work the innermost recognised frame belongs to.

    python benchmarks/pyspy_buckets.py bench4000.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

RULES = [  # first match wins, searched from the innermost frame outwards
    ("onnxruntime forward", r"run \(onnxruntime/"),
    ("read tile bytes", r"read_bytes|_cat_file|open \(fsspec|read \(fsspec"),
    ("PNG decode", r"\bload \(PIL/|decode \(PIL/|ImageFile|_fast_png"),
    ("resize", r"resize|thumbnail"),
    ("decode other", r"decode_tile|read_and_decode"),
    (
        "Arrow <-> Python (PySpark serializers)",
        r"pyspark/sql/pandas/serializers|pyspark/serializers|pyarrow",
    ),
    ("features column", r"features_column|ListArray"),
    ("network setup", r"new_session|onnx_session|InferenceSession"),
    ("PySpark worker", r"pyspark/worker|pyspark/daemon"),
    ("Kedro / driver", r"kedro|aerial_landuse"),
]


def bucket(stack: str) -> str:
    frames = [f for f in stack.split(";") if not f.startswith("process ")]
    for frame in reversed(frames):
        for name, pattern in RULES:
            if re.search(pattern, frame):
                return name
    return "other"


def main(path: str) -> None:
    per_process: dict[str, Counter] = defaultdict(Counter)
    for line in open(path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not count.isdigit():
            continue
        processes = [f for f in stack.split(";") if f.startswith("process ")]
        process = processes[-1] if processes else ""
        kind = "spark python worker" if "pyspark" in process or "daemon" in process else "driver"
        per_process[kind][bucket(stack)] += int(count)
    for kind, counts in per_process.items():
        total = sum(counts.values())
        print(f"\n{kind}: {total} samples")  # noqa: T201
        for name, n in counts.most_common():
            print(f"  {name:42s} {n:7d} {100 * n / total:5.1f} %")  # noqa: T201


if __name__ == "__main__":
    main(sys.argv[1])
