"""aerial-landuse: land-use classification of aerial image tiles on Spark, as a Kedro project."""

import fsspec

__version__ = "0.1"

# wasbs:// (HDInsight) for fsspec users: kedro-datasets and the executors' tile reader.
for _protocol in ("wasbs", "wasb"):
    fsspec.register_implementation(_protocol, "aerial_landuse.wasbs.WasbsFileSystem", clobber=True)
