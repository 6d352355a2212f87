"""Kedro datasets that kedro-datasets does not provide.

- ``TileFolderDataset``: a folder of image tiles, listed on the driver and read by Spark
  executors straight from storage (PartitionedDataset loads partitions one by one on the driver).
- ``ONNXNetworkDataset``: a pretrained network as an ONNX file with its preprocessing.
- ``SparkModelDataset``: a Spark ML PipelineModel with its label list and training record.
- ``FsspecSparkDataset``: a Spark DataFrame as Parquet that executors write and read through
  fsspec, on local disk and on object storage that Spark's Hadoop connectors cannot reach
  (Azurite); one committed file per task, so a stopped featurize resumes part by part.
- ``StagedRowsDataset``: the ids of the rows a stopped resumable save had finished.
- ``TrackedArtifactDataset``: any file or folder dataset, also logged to the MLflow run (any storage).
- ``SpreadsheetCSVDataset``: a CSV people open in a spreadsheet; no cell runs as a formula.
- ``WholeFileDataset``: any single-file dataset, saved whole (a temporary file moved in) under a lock.
- ``GeoPackageDataset``: a GeoDataFrame as a GeoPackage layer (for QGIS), on any filesystem.
- ``CogDataset``: a raster (class codes, probabilities) as a Cloud-Optimized GeoTIFF, on any filesystem;
  ``CogFolderDataset``: named ones in a folder with the list of them (none for a region of tiles).
- ``OptionalDataset``: any dataset that may be absent (the score region of a labelled-only user).
- ``PackageTextDataset``: a text resource of the installed package (the report template).
- ``MlflowParamsDataset``, ``MlflowRunsDataset``, ``ModelChoiceDataset``: run parameters, the run
  history and model choice (``best``) on MLflow, beside kedro-mlflow's own datasets.
"""

from .fsspec_spark import FsspecSparkDataset, StagedRowsDataset
from .geopackage import CogDataset, CogFolderDataset, GeoPackageDataset
from .mlflow_runs import (
    MlflowParamsDataset,
    MlflowRunsDataset,
    ModelChoiceDataset,
    TrackedMetricsDataset,
)
from .onnx_network import ONNXNetworkDataset
from .optional import OptionalDataset
from .package_text import PackageTextDataset
from .spark_model import SparkModelDataset
from .spreadsheet_csv import SpreadsheetCSVDataset
from .tile_folder import TileFolderDataset
from .tracked_artifact import TrackedArtifactDataset
from .whole_file import WholeFileDataset

__all__ = [
    "CogDataset",
    "CogFolderDataset",
    "FsspecSparkDataset",
    "GeoPackageDataset",
    "MlflowParamsDataset",
    "MlflowRunsDataset",
    "ModelChoiceDataset",
    "TrackedMetricsDataset",
    "ONNXNetworkDataset",
    "OptionalDataset",
    "PackageTextDataset",
    "SparkModelDataset",
    "SpreadsheetCSVDataset",
    "StagedRowsDataset",
    "TileFolderDataset",
    "TrackedArtifactDataset",
    "WholeFileDataset",
]
