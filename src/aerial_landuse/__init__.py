"""aerial-landuse: land-use classification of aerial image tiles on Spark, as a Kedro project."""

__version__ = "0.1"
