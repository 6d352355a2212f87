"""Reporting shared by the report and change pipelines: maps, QGIS styles, HTML templates."""
