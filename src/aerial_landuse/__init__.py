"""aerial-landuse"""

__version__ = "0.1"
